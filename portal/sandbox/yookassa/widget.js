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

  // The form speaks the payment's confirmation.locale (the widget/session answer), as the provider's widget
  // does: the merchant chooses the language when it creates the payment, not on the page. Russian unless
  // en_US, YooKassa's default. `reasons` are the cancellation_details reasons a declined attempt shows;
  // `errors` the card fields the server refuses (by the error's parameter).
  var TEXTS = {
    en: { lang: 'en', title: 'Card payment (YooKassa sandbox)', form: 'Card payment', number: 'Card number',
      expiry: 'Valid thru (MM/YY)', expiryPlaceholder: 'MM/YY', csc: 'CVC', code: '3-D Secure code (any digits)',
      pay: 'Pay', confirm: 'Confirm', refuse: 'Fail 3-D Secure', close: 'Close', processing: 'Processing…',
      success: 'Payment succeeded', declined: 'Payment declined', check: 'Check the card details',
      network: 'Network error, try again',
      errors: { card: 'Enter the card details', 'card.number': 'Invalid card number',
        'card.expiry_month': 'Invalid card expiry', 'card.expiry_year': 'Invalid card expiry',
        'card.csc': 'Invalid card security code', confirmation_token: 'This payment is already made or has expired' },
      reasons: { insufficient_funds: 'insufficient funds', issuer_unavailable: 'the card issuer is unavailable',
        internal_timeout: 'a technical failure, try again later', rejected_by_timeout: 'the bank did not answer in time',
        payment_method_limit_exceeded: 'the card limit is reached', general_decline: 'the bank gave no reason',
        card_expired: 'the card has expired', permission_revoked: 'the permission to charge the card was revoked',
        payment_method_restricted: 'the card is blocked', fraud_suspected: 'suspected fraud',
        country_forbidden: 'cards of this country are not accepted', invalid_card_number: 'invalid card number',
        call_issuer: 'call your bank', '3d_secure_failed': '3-D Secure failed', invalid_csc: 'invalid CVC',
        identification_required: 'identification required', canceled_by_merchant: 'canceled by the shop',
        expired_on_capture: 'the hold has expired', expired_on_confirmation: 'the time to pay is over' } },
    ru: { lang: 'ru', title: 'Оплата картой (песочница ЮKassa)', form: 'Оплата картой', number: 'Номер карты',
      expiry: 'Срок действия (ММ/ГГ)', expiryPlaceholder: 'ММ/ГГ', csc: 'Код CVC', code: 'Код 3-D Secure (любые цифры)',
      pay: 'Оплатить', confirm: 'Подтвердить', refuse: 'Не проходить 3-D Secure', close: 'Закрыть',
      processing: 'Обработка…', success: 'Оплата прошла', declined: 'Платёж отклонён',
      check: 'Проверьте данные карты', network: 'Ошибка сети, попробуйте ещё раз',
      errors: { card: 'Введите данные карты', 'card.number': 'Неверный номер карты',
        'card.expiry_month': 'Неверный срок действия карты', 'card.expiry_year': 'Неверный срок действия карты',
        'card.csc': 'Неверный код CVC', confirmation_token: 'Этот платёж уже проведён или время на оплату истекло' },
      reasons: { insufficient_funds: 'недостаточно средств на карте', issuer_unavailable: 'банк карты недоступен',
        internal_timeout: 'технический сбой, попробуйте позже', rejected_by_timeout: 'банк не ответил вовремя',
        payment_method_limit_exceeded: 'превышен лимит по карте', general_decline: 'банк не назвал причину',
        card_expired: 'истёк срок действия карты', permission_revoked: 'разрешение на списания отозвано',
        payment_method_restricted: 'карта заблокирована', fraud_suspected: 'подозрение на мошенничество',
        country_forbidden: 'карты этой страны не принимаются', invalid_card_number: 'неверный номер карты',
        call_issuer: 'обратитесь в банк', '3d_secure_failed': 'не пройдена проверка 3-D Secure',
        invalid_csc: 'неверный код CVC', identification_required: 'требуется идентификация',
        canceled_by_merchant: 'отменён магазином', expired_on_capture: 'истёк срок удержания денег',
        expired_on_confirmation: 'время на оплату истекло' } }
  };

  function textsFor(locale) {
    return /^en/i.test(String(locale || '')) ? TEXTS.en : TEXTS.ru;
  }

  // "299,00 ₽" in Russian, "299.00 RUB" in English (as the CloudPayments sandbox's widget writes them).
  function money(amount, t) {
    var value = Number(amount.value);
    var figure = isFinite(value) ? value.toFixed(2) : String(amount.value);
    if (t === TEXTS.ru) {
      return figure.replace('.', ',') + ' ' + (amount.currency === 'RUB' ? '₽' : amount.currency);
    }
    return figure + ' ' + amount.currency;
  }

  function declined(t, reason) {
    var why = Object.prototype.hasOwnProperty.call(t.reasons, reason) ? t.reasons[reason] : '';
    return why ? t.declined + ': ' + why : t.declined;
  }

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
    this.texts = TEXTS.ru;
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
    var t = widget.texts = textsFor(session.locale);
    var number = field('yk-sandbox-card-number', t.number,
      { autocomplete: 'cc-number', inputmode: 'numeric', placeholder: '5555 5555 5555 4444' });
    var expiry = field('yk-sandbox-expiry', t.expiry,
      { autocomplete: 'cc-exp', inputmode: 'numeric', placeholder: t.expiryPlaceholder, maxlength: '7' });
    var csc = field('yk-sandbox-csc', t.csc,
      { autocomplete: 'cc-csc', inputmode: 'numeric', placeholder: '123', maxlength: '4', type: 'password' });
    var code = field('yk-sandbox-3ds', t.code, { inputmode: 'numeric', maxlength: '8' });
    var result = el('div', { id: 'yk-sandbox-result', role: 'status', 'aria-live': 'polite' },
      { minHeight: '20px', margin: '8px 0', fontSize: '14px' });
    var pay = button('yk-sandbox-pay', t.pay + ' ' + money(session.amount, t));
    var confirm = button('yk-sandbox-3ds-submit', t.confirm);
    var refuse = button('yk-sandbox-3ds-fail', t.refuse);
    var cardStep = el('div', { id: 'yk-sandbox-card' }, {}, [number.wrapper, expiry.wrapper, csc.wrapper, pay]);
    var codeStep = el('div', { id: 'yk-sandbox-3ds-step', hidden: 'hidden' }, {}, [code.wrapper, confirm, refuse]);
    var form = el('form', { id: 'yk-sandbox-form', novalidate: 'novalidate', 'aria-label': t.form, lang: t.lang },
      { fontFamily: 'sans-serif', minWidth: '288px', maxWidth: '420px', padding: '16px', background: '#fff',
        border: '1px solid #ddd', borderRadius: '8px' },
      [el('h2', { id: 'yk-sandbox-title', text: t.title }, { fontSize: '18px', marginTop: '0' }),
       el('p', { id: 'yk-sandbox-description', text: session.description || '' }, { fontSize: '14px' }),
       cardStep, codeStep, result]);

    function card() {
      var parts = digits(expiry.input.value);
      return { number: digits(number.input.value), expiry_month: parts.slice(0, 2),
               expiry_year: parts.length > 4 ? parts.slice(2) : '20' + parts.slice(2, 4), csc: digits(csc.input.value) };
    }

    function submit(threeDs) {
      pay.disabled = confirm.disabled = refuse.disabled = true;
      result.textContent = t.processing;
      var payload = { confirmation_token: widget.token, card: card() };
      if (threeDs) { payload.three_ds = threeDs; }
      request('POST', 'widget/pay', payload).then(function (answer) {
        pay.disabled = confirm.disabled = refuse.disabled = false;
        if (answer.status === 200) { widget.finish(answer.body, result, form); return; }
        var parameter = answer.body.parameter;
        var refused = Object.prototype.hasOwnProperty.call(t.errors, parameter) ? t.errors[parameter] : t.check;
        if (parameter === 'confirmation_token') {
          result.textContent = refused;
          widget.initError('token_expired');
          return;
        }
        // A typo: the form stays open for a correction, no event fires.
        codeStep.hidden = true;
        cardStep.hidden = false;
        result.textContent = refused;
      }, function () {
        pay.disabled = confirm.disabled = refuse.disabled = false;
        result.textContent = t.network;
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
    var close = button('yk-sandbox-close', widget.texts.close);
    form.appendChild(close);
    widget.overlay = el('div', { id: 'yk-sandbox-overlay', role: 'dialog', 'aria-modal': 'true',
      'aria-labelledby': 'yk-sandbox-title' },
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
    result.textContent = succeeded ? this.texts.success : declined(this.texts, reason);
    form.setAttribute('data-outcome', succeeded ? 'success' : 'fail');
    if (reason) { form.setAttribute('data-reason', reason); }
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
