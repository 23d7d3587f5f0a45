/* CloudPayments sandbox widget: the provider's cp.CloudPayments API over an in-page card form.
 * Plain DOM, no external libraries, no eval, no inline scripts or handlers (CSP-friendly). */
(function (window, document) {
  'use strict';

  // Replaced by the server with the base URL of the request that served this file.
  var SERVED_FROM = "__SANDBOX_BASE_URL__";
  var BASE = (function () {
    var script = document.currentScript;
    if (script && script.src) {
      return script.src.replace(/widget\.js(\?.*)?(#.*)?$/, '');
    }
    return SERVED_FROM;
  })();
  var CANCELLED = 'User has cancelled';
  // Refusals of what the user typed: the form stays open for a correction, no callback fires.
  var INPUT_ERRORS = { 5014: true, 5054: true, 5082: true };

  /* __SANDBOX_DOM_HELPERS__ */

  // The dialog speaks the language the merchant's page passes (new cp.CloudPayments({language: 'ru-RU'})),
  // as the provider's widget does; English for anything else.
  var TEXTS = {
    en: { title: 'Card payment (CloudPayments sandbox)', number: 'Card number', expiry: 'Expiry date (MM/YY)',
      expiryPlaceholder: 'MM/YY', cvv: 'CVV', email: 'E-mail for the receipt', pay: 'Pay', cancel: 'Cancel',
      processing: 'Processing…', success: 'Payment successful', declined: 'Payment declined', close: 'Close',
      network: 'Network error, please try again' },
    ru: { title: 'Оплата картой (песочница CloudPayments)', number: 'Номер карты', expiry: 'Срок действия (ММ/ГГ)',
      expiryPlaceholder: 'ММ/ГГ', cvv: 'CVV', email: 'E-mail для чека', pay: 'Оплатить', cancel: 'Отмена',
      processing: 'Обработка…', success: 'Оплата прошла', declined: 'Платёж отклонён', close: 'Закрыть',
      network: 'Ошибка сети, попробуйте ещё раз' }
  };

  function textsFor(language) {
    return /^ru/i.test(String(language || '')) ? TEXTS.ru : TEXTS.en;
  }

  function money(amount, currency, t) {
    var value = Number(amount);
    var figure = isFinite(value) ? value.toFixed(2) : String(amount);
    if (t === TEXTS.ru) {
      return figure.replace('.', ',') + ' ' + ((currency || 'RUB') === 'RUB' ? '₽' : currency);
    }
    return figure + ' ' + (currency || 'RUB');
  }

  function post(payload) {
    return window.fetch(BASE + 'widget/pay', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      credentials: 'omit'
    }).then(function (response) { return response.json(); });
  }

  // One dialog session: collects the card, posts it, reports exactly one outcome through finish().
  function openDialog(kind, payload, finish, language) {
    var t = textsFor(language);
    // Whoever had the focus when the dialog opened (the page's pay button) gets it back when it closes.
    var opener = document.activeElement;
    var previous = document.getElementById('cp-sandbox-overlay');
    if (previous) { previous.parentNode.removeChild(previous); }

    var number = field('cp-sandbox-card-number', t.number,
      { autocomplete: 'cc-number', inputmode: 'numeric', placeholder: '4242 4242 4242 4242' });
    var expiry = field('cp-sandbox-exp-date', t.expiry,
      { autocomplete: 'cc-exp', inputmode: 'numeric', placeholder: t.expiryPlaceholder, maxlength: '7' });
    var cvv = field('cp-sandbox-cvv', t.cvv,
      { autocomplete: 'cc-csc', inputmode: 'numeric', placeholder: '123', maxlength: '4', type: 'password' });
    var email = null;
    if (payload.requireEmail && !payload.email) {
      email = field('cp-sandbox-email', t.email, { autocomplete: 'email', type: 'email' });
    }
    var result = el('div', { id: 'cp-sandbox-result', role: 'status', 'aria-live': 'polite' },
      { minHeight: '20px', margin: '8px 0', fontSize: '14px' });
    var payButton = el('button', { id: 'cp-sandbox-pay', type: 'submit', text: t.pay + ' ' + money(payload.amount, payload.currency, t) },
      { padding: '10px 16px', fontSize: '16px', marginRight: '8px', cursor: 'pointer' });
    var cancelButton = el('button', { id: 'cp-sandbox-cancel', type: 'button', text: t.cancel },
      { padding: '10px 16px', fontSize: '16px', cursor: 'pointer' });
    var title = el('h2', { id: 'cp-sandbox-title', text: t.title },
      { margin: '0 0 8px', fontSize: '18px' });
    var summary = el('p', { id: 'cp-sandbox-summary',
      text: (payload.description ? payload.description + ': ' : '') + money(payload.amount, payload.currency, t) },
      { margin: '0 0 16px', fontSize: '14px' });
    var children = [title, summary, number.wrapper, expiry.wrapper, cvv.wrapper];
    if (email) { children.push(email.wrapper); }
    children.push(result, el('div', {}, {}, [payButton, cancelButton]));
    var form = el('form', { id: 'cp-sandbox-form', novalidate: 'novalidate' }, {}, children);
    var dialog = el('div', { id: 'cp-sandbox-dialog', role: 'dialog', 'aria-modal': 'true',
      'aria-labelledby': 'cp-sandbox-title', 'aria-describedby': 'cp-sandbox-summary', tabindex: '-1',
      'data-payment-type': kind },
      { background: '#fff', color: '#222', padding: '24px', borderRadius: '8px', width: '360px',
        maxWidth: '92vw', fontFamily: 'sans-serif', boxShadow: '0 8px 32px rgba(0,0,0,.3)' }, [form]);
    var overlay = el('div', { id: 'cp-sandbox-overlay' },
      { position: 'fixed', top: '0', left: '0', right: '0', bottom: '0', background: 'rgba(0,0,0,.5)',
        display: 'flex', alignItems: 'center', justifyContent: 'center', zIndex: '2147483647' }, [dialog]);

    var settled = false;
    function close() {
      document.removeEventListener('keydown', onKey);
      var hadFocus = focusWasHere();
      if (overlay.parentNode) { overlay.parentNode.removeChild(overlay); }
      if (hadFocus) { returnFocus(); }
    }
    // True while the focus is in the dialog or nowhere (a control of it was disabled or removed): then closing
    // hands it back; focus the page moved elsewhere meanwhile (or another dialog took) stays where it is.
    function focusWasHere() {
      var active = document.activeElement;
      return !active || active === document.body || active === document.documentElement ||
        (typeof overlay.contains === 'function' && overlay.contains(active));
    }
    function refocus(node) {
      var active = document.activeElement;
      if (node && (!active || active === document.body) && overlay.parentNode) { node.focus(); }
    }
    function returnFocus() {
      if (!opener || opener === document.body || typeof opener.focus !== 'function') { return; }
      // The page may have re-rendered its button meanwhile (a status fragment swapped in): the same id then.
      var target = opener.isConnected === false && opener.id ? document.getElementById(opener.id) : opener;
      if (target && target.isConnected !== false && !target.disabled) { target.focus(); }
    }
    // What Tab can reach in the dialog now: the fields and the buttons that are shown and enabled.
    function tabbable() {
      return Array.prototype.filter.call(dialog.querySelectorAll('a[href], button, input, select, textarea'),
        function (node) { return !node.disabled && node.tabIndex >= 0 && node.getClientRects().length > 0; });
    }
    // The WAI-ARIA dialog pattern: Tab and Shift+Tab cycle through the dialog's controls, never the page behind.
    function keepFocusInside(event) {
      var controls = tabbable();
      var active = document.activeElement;
      if (!controls.length) { event.preventDefault(); dialog.focus(); return; }
      var first = controls[0];
      var last = controls[controls.length - 1];
      var inside = dialog.contains(active) && active !== dialog;
      if (event.shiftKey && (!inside || active === first)) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (!inside || active === last)) {
        event.preventDefault();
        first.focus();
      }
    }
    function settle(status, outcome, message) {
      if (settled) { return; }
      settled = true;
      finish(status, outcome || {}, message);
    }
    function cancel() {
      close();
      settle('cancel', null, CANCELLED);
      // The page re-enables its button only in the callback: focusing it from close() came too early.
      if (focusWasHere()) { returnFocus(); }
    }
    function onKey(event) {
      if (event.key === 'Escape') {
        event.preventDefault();
        // As the disabled Cancel button: a card attempt in flight is not abandoned halfway.
        if (settled || !cancelButton.disabled) { cancel(); }
      } else if (event.key === 'Tab') {
        keepFocusInside(event);
      }
    }
    function busy(on) {
      payButton.disabled = on;
      cancelButton.disabled = on;
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (settled) { close(); return; }
      // Disabling the button pressed drops the focus; it comes back where the user was if the form does.
      var submittedFrom = document.activeElement;
      busy(true);
      result.textContent = t.processing;
      var body = Object.assign({}, payload, {
        type: kind,
        cardNumber: number.input.value,
        expDate: expiry.input.value,
        cvv: cvv.input.value
      });
      if (email) { body.email = email.input.value; }
      post(body).then(function (outcome) {
        if (outcome.Success) {
          result.textContent = t.success;
          settle('success', outcome, null);
          window.setTimeout(close, payload.autoClose === false ? 3000 : 800);
          return;
        }
        var message = outcome.CardHolderMessage || outcome.Message || t.declined;
        result.textContent = message;
        if (!outcome.TransactionId && INPUT_ERRORS[outcome.ReasonCode]) {
          busy(false);
          refocus(submittedFrom);
          return;
        }
        settle('fail', outcome, message);
        // The payment is over: the only way on is to close the dialog.
        payButton.textContent = t.close;
        payButton.disabled = false;
        cancelButton.style.display = 'none';
        if (focusWasHere()) { payButton.focus(); }
      }, function () {
        result.textContent = t.network;
        busy(false);
        refocus(submittedFrom);
      });
    });
    cancelButton.addEventListener('click', cancel);
    document.addEventListener('keydown', onKey);
    (document.body || document.documentElement).appendChild(overlay);
    number.input.focus();
  }

  // The options a classic pay() call takes, in the shape widget/pay reads.
  function classicPayload(options) {
    return Object.assign({}, options || {});
  }

  // The newer start() parameters mapped onto the classic option names.
  function startPayload(params) {
    var user = params.userInfo || {};
    return {
      publicId: params.publicTerminalId || params.publicId,
      amount: params.amount,
      currency: params.currency,
      description: params.description,
      invoiceId: params.externalId || params.invoiceId,
      accountId: user.accountId || params.accountId,
      email: user.email || params.email,
      data: params.metadata || params.data,
      requireEmail: params.requireEmail,
      autoClose: params.autoClose
    };
  }

  function resultOf(status, outcome, message) {
    return {
      type: 'payment',
      status: status,
      data: { transactionId: outcome.TransactionId || null, ReasonCode: outcome.ReasonCode == null ? null : outcome.ReasonCode },
      message: message
    };
  }

  function CloudPayments(settings) {
    if (!(this instanceof CloudPayments)) { return new CloudPayments(settings); }
    this.settings = settings || {};
  }

  CloudPayments.prototype.pay = function (kind, options, callbacks) {
    var handlers = callbacks || {};
    var payload = classicPayload(options);
    kind = kind === 'auth' ? 'auth' : 'charge';
    var language = this.settings.language;
    return new Promise(function (resolve) {
      openDialog(kind, payload, function (status, outcome, message) {
        var paymentResult = {
          success: status === 'success',
          code: outcome.ReasonCode == null ? null : outcome.ReasonCode,
          message: message,
          transactionId: outcome.TransactionId || null,
          token: outcome.Token || null
        };
        try {
          if (status === 'success') {
            if (handlers.onSuccess) { handlers.onSuccess(options); }
          } else if (handlers.onFail) {
            handlers.onFail(message, options);
          }
          if (handlers.onComplete) { handlers.onComplete(paymentResult, options); }
        } finally {
          resolve(resultOf(status, outcome, message));
        }
      }, language);
    });
  };

  CloudPayments.prototype.charge = function (options, onSuccess, onFail) {
    return this.pay('charge', options, { onSuccess: onSuccess, onFail: onFail });
  };

  CloudPayments.prototype.auth = function (options, onSuccess, onFail) {
    return this.pay('auth', options, { onSuccess: onSuccess, onFail: onFail });
  };

  CloudPayments.prototype.start = function (params) {
    var payload = startPayload(params || {});
    var kind = String((params || {}).paymentSchema || 'Single').toLowerCase() === 'dual' ? 'auth' : 'charge';
    var language = this.settings.language;
    return new Promise(function (resolve) {
      openDialog(kind, payload, function (status, outcome, message) {
        resolve(resultOf(status, outcome, message));
      }, language);
    });
  };

  window.cp = window.cp || {};
  window.cp.CloudPayments = CloudPayments;
  window.cp.sandboxBaseUrl = BASE;
})(window, document);
