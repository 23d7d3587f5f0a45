/* Small page behaviours without inline scripts: the print button of receipts; focus follows a fragment
 * that replaced the element holding it, so keyboard users are not dropped at the top of the page. */
(function () {
  'use strict';

  document.addEventListener('click', function (event) {
    if (event.target.closest && event.target.closest('[data-print]')) {
      event.preventDefault();
      window.print();
    }
  });

  document.addEventListener('htmx:afterSwap', function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !document.activeElement || document.activeElement !== document.body) { return; }
    var fresh = target.id ? document.getElementById(target.id) : null;
    var focusable = fresh && fresh.querySelector('button:not([disabled]), a[href], input:not([type=hidden])');
    if (focusable) { focusable.focus(); }
  });
})();
