// The situation board: draws the figures with ECharts and redraws them
// from the server's Server-Sent Events. Names come from the page (the
// viewer's language); figures come from /board/events.
'use strict';
(function () {
  const en = document.documentElement.lang === 'en';
  const LEVELS = ['I', 'II', 'III', 'IV'];
  const COLOURS = { I: '#b71c1c', II: '#e65100', III: '#f9a825', IV: '#1565c0' };
  const charts = {};
  const el = (id) => document.getElementById(id);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const name = (zh, enName) => (en && enName ? enName : zh);

  function chart(id) {
    if (!charts[id]) {
      charts[id] = echarts.init(el(id), null, { renderer: 'canvas' });
    }
    return charts[id];
  }
  function title(id) {
    return { text: el(id).dataset.title, left: 'center', textStyle: { fontSize: 14 } };
  }

  function worst(open) {
    const i = open.findIndex((n) => n > 0);
    return i < 0 ? null : LEVELS[i];
  }

  // Regions as a tree for the treemap: children under their parent,
  // coloured by the most severe level open in them.
  function regionTree(regions) {
    const nodes = new Map();
    for (const r of regions) {
      const open = sum(r.open);
      nodes.set(r.code, {
        name: name(r.name_zh, r.name_en),
        value: Math.max(open, 0.2),
        open: open,
        overdue: r.overdue,
        itemStyle: { color: worst(r.open) ? COLOURS[worst(r.open)] : '#9e9e9e' },
        children: [],
        parent: r.parent,
      });
    }
    const roots = [];
    for (const n of nodes.values()) {
      const p = n.parent && nodes.get(n.parent);
      (p ? p.children : roots).push(n);
    }
    for (const n of nodes.values()) {
      if (n.children.length === 0) delete n.children;
      delete n.parent;
    }
    return roots;
  }

  function draw(d) {
    el('tile-open').textContent = sum(d.open);
    el('tile-overdue').textContent = sum(d.overdue);
    el('tile-alerts').textContent = sum(d.alerts_by_level);
    const epm = d.events_per_minute;
    el('tile-epm').textContent = epm.length ? epm[epm.length - 1][1] : 0;
    const up = el('board-updated');
    up.textContent = up.dataset.label + ' ' + new Date(d.at).toLocaleTimeString(en ? 'en-GB' : 'zh-CN');

    chart('chart-events').setOption({
      title: title('chart-events'),
      grid: { left: 50, right: 20, top: 40, bottom: 30 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: epm.map((m) => new Date(m[0] * 1000).toTimeString().slice(0, 5)) },
      yAxis: { type: 'value' },
      series: [{ type: 'line', smooth: true, areaStyle: {}, data: epm.map((m) => m[1]) }],
    });
    const levels = el('chart-levels');
    chart('chart-levels').setOption({
      title: title('chart-levels'),
      grid: { left: 50, right: 20, top: 40, bottom: 30 },
      tooltip: {},
      xAxis: { type: 'category', data: LEVELS },
      yAxis: { type: 'value' },
      series: [{ name: levels.dataset.series, type: 'bar',
        data: d.alerts_by_level.map((n, i) => ({ value: n, itemStyle: { color: COLOURS[LEVELS[i]] } })) }],
    });
    const cats = el('chart-categories');
    chart('chart-categories').setOption({
      title: title('chart-categories'),
      tooltip: { trigger: 'item' },
      series: [{ type: 'pie', radius: ['35%', '65%'], top: 30,
        data: d.alerts_by_category.slice(0, 12).map(([code, n]) => {
          const names = d.category_names[code];
          return { name: code ? (names ? name(names[0], names[1]) : code) : cats.dataset.none, value: n };
        }) }],
    });
    const notices = el('chart-notices');
    chart('chart-notices').setOption({
      title: title('chart-notices'),
      legend: { bottom: 0 },
      grid: { left: 50, right: 20, top: 40, bottom: 40 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: LEVELS },
      yAxis: { type: 'value' },
      series: [
        { name: notices.dataset.open, type: 'bar', data: d.open },
        { name: notices.dataset.overdue, type: 'bar', data: d.overdue, itemStyle: { color: '#b71c1c' } },
      ],
    });
    chart('chart-regions').setOption({
      title: title('chart-regions'),
      tooltip: { formatter: (p) => p.name + ': ' + (p.data.open || 0) + ' / ' + (p.data.overdue || 0) },
      series: [{ type: 'treemap', top: 35, roam: false, leafDepth: 2, data: regionTree(d.regions),
        label: { show: true, formatter: (p) => p.name + (p.data.open ? ' ' + p.data.open : '') },
        upperLabel: { show: true, height: 20 } }],
    });

    const body = el('units-at-risk').querySelector('tbody');
    body.replaceChildren();
    for (const u of d.units_at_risk) {
      const tr = document.createElement('tr');
      const a = document.createElement('a');
      a.href = '/units/' + encodeURIComponent(u.code);
      a.textContent = name(u.name_zh, u.name_en) || u.code;
      const first = document.createElement('td');
      first.append(a);
      tr.append(first);
      for (const n of [...u.open, u.overdue]) {
        const td = document.createElement('td');
        td.textContent = n;
        tr.append(td);
      }
      body.append(tr);
    }
    document.body.dataset.boardAt = d.at;
  }

  document.addEventListener('DOMContentLoaded', () => {
    draw(JSON.parse(el('board-data').textContent));
    const live = el('board-live');
    const source = new EventSource('/board/events');
    source.addEventListener('board', (e) => draw(JSON.parse(e.data)));
    source.onopen = () => { live.textContent = live.dataset.on; live.className = 'live on'; };
    source.onerror = () => { live.textContent = live.dataset.off; live.className = 'live off'; };
    window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
  });
})();
