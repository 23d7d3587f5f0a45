/* Admin page behaviour without inline scripts: a confirmation's "Cancel" button closes its panel. */
(function () {
  'use strict';
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('[data-close-panel]');
    if (!button) { return; }
    var panel = button.closest('.action-panel');
    if (panel) { panel.innerHTML = ''; } else { window.history.back(); }
  });
})();
