// The console's own script: small touches htmx does not cover.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  // The language switch returns to the page it was used on.
  for (const input of document.querySelectorAll('input[data-back]')) {
    input.value = location.pathname + location.search;
  }
});
