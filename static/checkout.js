/* The payment page: opens the widget of the invoice's provider (data-provider on #checkout) with the
 * invoice's parameters (a JSON script tag, so the page needs no inline script) and, once the widget is done
 * with a real attempt, asks htmx for the status fragment, which keeps polling itself until the outcome is
 * known. The widget's events are hints; the provider's notification is the truth. */
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

  function unavailable() {
    document.getElementById('widget-unavailable').hidden = false;
  }

  // CloudPayments: widget.pay('charge' | 'auth', options, callbacks) in a modal window.
  function openCloudPayments(page, button, url) {
    if (!window.cp || !window.cp.CloudPayments) { unavailable(); return; }
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
  }

  // YooKassa: the embedded widget renders its card form into #payment-form from the payment's token.
  function openYooKassa(page, button, url) {
    if (!window.YooMoneyCheckoutWidget) { unavailable(); return; }
    var params = widgetParams();
    button.disabled = true;
    var checkout = new window.YooMoneyCheckoutWidget({
      confirmation_token: params.confirmation_token,
      error_callback: function () { button.disabled = false; unavailable(); }
    });
    function done() { checkout.destroy(); button.disabled = false; showStatus(url); }
    checkout.on('success', done);
    checkout.on('fail', done);
    checkout.render('payment-form');
  }

  var WIDGETS = { cloudpayments: openCloudPayments, yookassa: openYooKassa };

  document.addEventListener('click', function (event) {
    var button = event.target.closest ? event.target.closest('[data-open-widget]') : null;
    if (!button) { return; }
    event.preventDefault();
    var page = document.getElementById('checkout');
    var open = WIDGETS[page.getAttribute('data-provider')] || openCloudPayments;
    // The URL is read now: after a decline it points past that declined attempt.
    open(page, button, statusUrl());
  });
})();
