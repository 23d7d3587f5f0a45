/* The payment page: opens the provider's widget with the invoice's parameters (a JSON script tag, so the
 * page needs no inline script) and, once the widget closes on a real attempt, asks htmx for the status
 * fragment, which keeps polling itself until the outcome is known. */
(function () {
  'use strict';

  function statusUrl() {
    var box = document.getElementById('checkout-status');
    return box ? box.getAttribute('data-status-url') : null;
  }

  function showStatus(url) {
    window.htmx.ajax('GET', url, { target: '#checkout-status', swap: 'outerHTML' });
  }

  function widgetParams() {
    return JSON.parse(document.getElementById('widget-params').textContent);
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest ? event.target.closest('[data-open-widget]') : null;
    if (!button) { return; }
    event.preventDefault();
    var page = document.getElementById('checkout');
    if (!window.cp || !window.cp.CloudPayments) {
      document.getElementById('widget-unavailable').hidden = false;
      return;
    }
    // The URL is read now: after a decline it points past that declined attempt.
    var url = statusUrl();
    button.disabled = true;
    var widget = new window.cp.CloudPayments({ language: page.getAttribute('data-language') });
    widget.pay(page.getAttribute('data-scheme'), widgetParams(), {
      onComplete: function (result) {
        button.disabled = false;
        // Closed without trying (no transaction, no reason): nothing to wait for, the button stays.
        if (result && (result.success || result.transactionId || result.code)) {
          showStatus(url);
        } else {
          button.focus();
        }
      }
    });
  });
})();
