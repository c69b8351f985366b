"""The independent side of the Sigma cross-check (crates/detect/tests/crosscheck.rs).

Converts every rule under RULES with pySigma's SQLite backend, loads EVENTS
(JSON lines, flat objects) into an SQLite table, runs each rule's SQL, and
writes {"matches": {rule_id: [event index, ...]}, "errors": {rule_id or file: reason}}
to OUT. Keyword (fieldless) values match a full-text column holding every
string value of the event; REGEXP is Python's re.

Usage: sigma_sqlite.py RULES_DIR EVENTS.jsonl OUT.json
"""
import json
import pathlib
import re
import sqlite3
import sys

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

rules_dir, events_path, out_path = sys.argv[1:4]
SEP = "\x1f"

events = [json.loads(l) for l in open(events_path, encoding="utf-8") if l.strip()]
columns = sorted({k for e in events for k in e})
db = sqlite3.connect(":memory:")


def regexp(pattern, value):
    # pySigma writes flags as an inline (?i) prefix, which Python's re reads.
    return value is not None and re.search(pattern, str(value)) is not None


db.create_function("REGEXP", 2, regexp, deterministic=True)


def numeric(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    try:
        float(v)
        return isinstance(v, str) and v.strip() == v and v != ""
    except (TypeError, ValueError):
        return False


# A column whose values are all numbers (or numeric strings) gets NUMERIC
# affinity, so `EventID = 4688` and `BytesOut >= 1000000` compare as numbers
# whether the event wrote 4688 or "4688"; any other column is text compared
# case-insensitively, as Sigma compares strings.
def column(c):
    present = [e[c] for e in events if e.get(c) is not None]
    if present and all(numeric(v) for v in present):
        return f'"{c}" NUMERIC'
    return f'"{c}" TEXT COLLATE NOCASE'


cols = ", ".join(column(c) for c in columns)
db.execute(f'CREATE TABLE logs (row_id INTEGER, fulltext TEXT COLLATE NOCASE{", " + cols if cols else ""})')


def cell(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return v


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)
    elif v is not None and not isinstance(v, bool):
        yield str(v)


for i, e in enumerate(events):
    names = ["row_id", "fulltext"] + list(e)
    values = [i, SEP.join(strings(e))] + [cell(v) for v in e.values()]
    marks = ", ".join("?" for _ in names)
    quoted = ", ".join(f'"{n}"' for n in names)
    db.execute(f"INSERT INTO logs ({quoted}) VALUES ({marks})", values)

backend = sqliteBackend(fulltext_field="fulltext")
matches, errors = {}, {}
for path in sorted(pathlib.Path(rules_dir).rglob("*.yml")):
    try:
        collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
    except Exception as exc:  # a rule pySigma cannot read is reported, not fatal
        errors[str(path)] = f"{type(exc).__name__}: {exc}"
        continue
    for rule in collection.rules:
        if not isinstance(rule, SigmaRule):
            continue
        rid = str(rule.id) if rule.id else rule.title
        try:
            queries = backend.convert_rule(rule)
        except Exception as exc:
            errors[rid] = f"{type(exc).__name__}: {exc}"
            continue
        hit = set()
        for q in queries:
            sql = re.sub(r"^SELECT \* FROM", "SELECT row_id FROM", q, count=1)
            # A field no event has is a column of NULLs, added on demand.
            for _ in range(64):
                try:
                    hit.update(r[0] for r in db.execute(sql))
                    break
                except sqlite3.OperationalError as exc:
                    missing = re.match(r"no such column: (.+)$", str(exc))
                    if not missing:
                        errors[rid] = f"SQL error: {exc}: {sql}"
                        break
                    db.execute(f'ALTER TABLE logs ADD COLUMN "{missing.group(1)}" TEXT COLLATE NOCASE')
        if rid not in errors:
            matches[rid] = sorted(hit)

json.dump({"matches": matches, "errors": errors}, open(out_path, "w"), indent=0, sort_keys=True)
