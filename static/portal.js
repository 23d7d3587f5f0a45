/* Small page behaviours without inline scripts: the print button of receipts; focus follows a fragment
 * that replaced the element holding it, so keyboard users are not dropped at the top of the page; the cells of
 * staff tables are labelled by their columns for the stacked phone layout. */
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

  // Staff tables stack on a phone (portal.css): each cell carries its column's header as data-label, which the
  // stylesheet shows before it. Read from the table's own <th>, so the label is in the page's language; redone
  // after every htmx swap, which brings new rows.
  function labelCells(root) {
    var tables = (root || document).querySelectorAll('.admin table.history');
    Array.prototype.forEach.call(tables, function (table) {
      var heads = table.tHead ? table.tHead.rows[0] : null;
      if (!heads) { return; }
      var labels = Array.prototype.map.call(heads.cells, function (th) { return th.textContent.trim(); });
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          if (row.cells.length !== labels.length) { return; }  // an "empty" row spans every column
          Array.prototype.forEach.call(row.cells, function (cell, i) {
            if (labels[i]) { cell.setAttribute('data-label', labels[i]); }
          });
        });
      });
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { labelCells(document); });
  } else {
    labelCells(document);
  }
  document.addEventListener('htmx:afterSettle', function () { labelCells(document); });
})();
