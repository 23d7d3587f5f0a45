/* YooKassa sandbox widget: window.YooMoneyCheckoutWidget over a plain card form (confirmation_token flow).
 * Plain DOM, no external libraries, no eval, no inline scripts or handlers (CSP-friendly). */
(function (window, document) {
  'use strict';

  // Replaced by the server: the base URL of the request that served this file, and the 3-DS test cards.
  var SERVED_FROM = "__SANDBOX_BASE_URL__";
  var THREE_DS_CARDS = "__SANDBOX_THREE_DS_CARDS__";
  var BASE = (function () {
    var script = document.currentScript;
    if (script && script.src) {
      return script.src.replace(/widget\.js(\?.*)?(#.*)?$/, '');
    }
    return SERVED_FROM;
  })();
  var EVENTS = ['success', 'fail', 'complete', 'modal_close'];

  /* __SANDBOX_DOM_HELPERS__ */

  function button(id, text) {
    return el('button', { id: id, type: 'button', text: text },
      { padding: '10px 16px', fontSize: '16px', marginRight: '8px', cursor: 'pointer' });
  }

  function request(method, path, payload) {
    return window.fetch(BASE + path, {
      method: method,
      headers: payload ? { 'Content-Type': 'application/json' } : {},
      body: payload ? JSON.stringify(payload) : undefined,
      credentials: 'omit'
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    });
  }

  function digits(text) { return String(text || '').replace(/\D/g, ''); }

  function YooMoneyCheckoutWidget(options) {
    if (!(this instanceof YooMoneyCheckoutWidget)) { return new YooMoneyCheckoutWidget(options); }
    options = options || {};
    this.token = options.confirmation_token;
    this.returnUrl = options.return_url || null;
    this.modal = !!(options.customization && options.customization.modal);
    this.errorCallback = typeof options.error_callback === 'function' ? options.error_callback : null;
    this.handlers = {};
    this.root = null;
    this.overlay = null;
  }

  YooMoneyCheckoutWidget.prototype.on = function (event, handler) {
    if (EVENTS.indexOf(event) >= 0 && typeof handler === 'function') {
      (this.handlers[event] = this.handlers[event] || []).push(handler);
    }
    return this;
  };

  YooMoneyCheckoutWidget.prototype.emit = function (event) {
    (this.handlers[event] || []).forEach(function (handler) {
      try { handler(); } catch (error) { window.setTimeout(function () { throw error; }, 0); }
    });
  };

  YooMoneyCheckoutWidget.prototype.initError = function (code) {
    if (this.errorCallback) { this.errorCallback({ error: code }); }
  };

  YooMoneyCheckoutWidget.prototype.render = function (containerId) {
    var widget = this;
    var container = containerId ? document.getElementById(containerId) : null;
    if (containerId && !container) {
      return Promise.reject(new Error('YooMoneyCheckoutWidget: no element with id ' + containerId));
    }
    if (!widget.token) {
      widget.initError('invalid_token');
      return Promise.resolve();
    }
    return request('GET', 'widget/session?confirmation_token=' + encodeURIComponent(widget.token))
      .then(function (answer) {
        if (answer.status !== 200 || answer.body.state !== 'active') {
          widget.initError(answer.status === 200 ? 'token_expired' : 'invalid_token');
          return;
        }
        widget.build(container, answer.body);
      });
  };

  YooMoneyCheckoutWidget.prototype.build = function (container, session) {
    var widget = this;
    var number = field('yk-sandbox-card-number', 'Card number',
      { autocomplete: 'cc-number', inputmode: 'numeric', placeholder: '5555 5555 5555 4444' });
    var expiry = field('yk-sandbox-expiry', 'Valid thru (MM/YY)',
      { autocomplete: 'cc-exp', inputmode: 'numeric', placeholder: 'MM/YY', maxlength: '7' });
    var csc = field('yk-sandbox-csc', 'CVC',
      { autocomplete: 'cc-csc', inputmode: 'numeric', placeholder: '123', maxlength: '4', type: 'password' });
    var code = field('yk-sandbox-3ds', '3-D Secure code (any digits)', { inputmode: 'numeric', maxlength: '8' });
    var result = el('div', { id: 'yk-sandbox-result', role: 'status', 'aria-live': 'polite' },
      { minHeight: '20px', margin: '8px 0', fontSize: '14px' });
    var pay = button('yk-sandbox-pay', 'Pay ' + session.amount.value + ' ' + session.amount.currency);
    var confirm = button('yk-sandbox-3ds-submit', 'Confirm');
    var refuse = button('yk-sandbox-3ds-fail', 'Fail 3-D Secure');
    var cardStep = el('div', { id: 'yk-sandbox-card' }, {}, [number.wrapper, expiry.wrapper, csc.wrapper, pay]);
    var codeStep = el('div', { id: 'yk-sandbox-3ds-step', hidden: 'hidden' }, {}, [code.wrapper, confirm, refuse]);
    var form = el('form', { id: 'yk-sandbox-form', novalidate: 'novalidate', 'aria-label': 'Card payment' },
      { fontFamily: 'sans-serif', minWidth: '288px', maxWidth: '420px', padding: '16px', background: '#fff',
        border: '1px solid #ddd', borderRadius: '8px' },
      [el('h2', { text: 'Card payment (YooKassa sandbox)' }, { fontSize: '18px', marginTop: '0' }),
       el('p', { id: 'yk-sandbox-description', text: session.description || '' }, { fontSize: '14px' }),
       cardStep, codeStep, result]);

    function card() {
      var parts = digits(expiry.input.value);
      return { number: digits(number.input.value), expiry_month: parts.slice(0, 2),
               expiry_year: parts.length > 4 ? parts.slice(2) : '20' + parts.slice(2, 4), csc: digits(csc.input.value) };
    }

    function submit(threeDs) {
      pay.disabled = confirm.disabled = refuse.disabled = true;
      result.textContent = 'Processing…';
      var payload = { confirmation_token: widget.token, card: card() };
      if (threeDs) { payload.three_ds = threeDs; }
      request('POST', 'widget/pay', payload).then(function (answer) {
        pay.disabled = confirm.disabled = refuse.disabled = false;
        if (answer.status === 200) { widget.finish(answer.body, result, form); return; }
        if (answer.body.parameter === 'confirmation_token') {
          result.textContent = answer.body.description;
          widget.initError('token_expired');
          return;
        }
        // A typo: the form stays open for a correction, no event fires.
        codeStep.hidden = true;
        cardStep.hidden = false;
        result.textContent = answer.body.description || 'Check the card details';
      }, function () {
        pay.disabled = confirm.disabled = refuse.disabled = false;
        result.textContent = 'Network error, try again';
      });
    }

    pay.addEventListener('click', function () {
      if (THREE_DS_CARDS.indexOf(card().number) >= 0) {
        cardStep.hidden = true;
        codeStep.hidden = false;
        code.input.focus();
        return;
      }
      submit(null);
    });
    confirm.addEventListener('click', function () { submit('pass'); });
    refuse.addEventListener('click', function () { submit('fail'); });
    form.addEventListener('submit', function (event) { event.preventDefault(); });

    if (container) {
      container.appendChild(form);
      widget.root = form;
    } else {
      widget.openModal(form);
    }
    number.input.focus();
  };

  YooMoneyCheckoutWidget.prototype.openModal = function (form) {
    var widget = this;
    var close = button('yk-sandbox-close', 'Close');
    form.appendChild(close);
    widget.overlay = el('div', { id: 'yk-sandbox-overlay', role: 'dialog', 'aria-modal': 'true' },
      { position: 'fixed', top: '0', left: '0', right: '0', bottom: '0', background: 'rgba(0,0,0,0.5)',
        display: 'flex', alignItems: 'center', justifyContent: 'center', zIndex: '2147483647' }, [form]);
    close.addEventListener('click', function () {
      widget.destroy();
      widget.emit('modal_close');
    });
    document.body.appendChild(widget.overlay);
    widget.root = form;
  };

  YooMoneyCheckoutWidget.prototype.finish = function (payment, result, form) {
    var succeeded = payment.status === 'succeeded' || payment.status === 'waiting_for_capture';
    var reason = payment.cancellation_details ? payment.cancellation_details.reason : '';
    result.textContent = succeeded ? 'Payment succeeded' : 'Payment declined: ' + reason;
    form.setAttribute('data-outcome', succeeded ? 'success' : 'fail');
    var handled = (this.handlers[succeeded ? 'success' : 'fail'] || []).length + (this.handlers.complete || []).length;
    this.emit(succeeded ? 'success' : 'fail');
    this.emit('complete');
    if (!handled && this.returnUrl) { window.location.assign(this.returnUrl); }
  };

  YooMoneyCheckoutWidget.prototype.destroy = function () {
    var node = this.overlay || this.root;
    if (node && node.parentNode) { node.parentNode.removeChild(node); }
    this.overlay = this.root = null;
  };

  window.YooMoneyCheckoutWidget = YooMoneyCheckoutWidget;
})(window, document);
