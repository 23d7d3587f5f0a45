// Drives the served widget.js in Node with a minimal fake DOM against the running sandbox.
// Usage: node widget_harness.js <sandbox base url ending in /> <scenario>; prints a JSON report.
'use strict';

const vm = require('vm');

const [base, scenario] = process.argv.slice(2);
const unsafeAttributes = [];

class FakeNode {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.attributes = {};
    this.style = {};
    this.listeners = {};
    this.parentNode = null;
    this.ownText = '';
    this.value = '';
    this.disabled = false;
  }
  setAttribute(name, value) {
    // What a strict CSP would block: inline styles and inline event handlers.
    if (name === 'style' || name.startsWith('on')) { unsafeAttributes.push(name); }
    this.attributes[name] = String(value);
    if (name === 'id') { this.id = String(value); }
  }
  getAttribute(name) { return name in this.attributes ? this.attributes[name] : null; }
  appendChild(child) { child.parentNode = this; this.children.push(child); return child; }
  removeChild(child) { this.children = this.children.filter((c) => c !== child); child.parentNode = null; return child; }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  removeEventListener(type, fn) { this.listeners[type] = (this.listeners[type] || []).filter((f) => f !== fn); }
  dispatch(type, event) {
    const ev = Object.assign({ type, preventDefault() { ev.defaultPrevented = true; } }, event || {});
    (this.listeners[type] || []).slice().forEach((fn) => fn(ev));
    return ev;
  }
  set textContent(value) { this.ownText = String(value); this.children = []; }
  get textContent() { return this.ownText + this.children.map((c) => c.textContent).join(''); }
  focus() { document.activeElement = this; }
  contains(node) {
    for (let n = node; n; n = n.parentNode) { if (n === this) { return true; } }
    return false;
  }
  click() {
    if (this.disabled) { return; }
    if (this.tagName === 'BUTTON' && this.attributes.type === 'submit') {
      let form = this.parentNode;
      while (form && form.tagName !== 'FORM') { form = form.parentNode; }
      form.dispatch('submit');
    } else {
      this.dispatch('click');
    }
  }
}

function find(node, id) {
  if (node.id === id) { return node; }
  for (const child of node.children) {
    const hit = find(child, id);
    if (hit) { return hit; }
  }
  return null;
}

const body = new FakeNode('body');
const documentListeners = new FakeNode('document');
const document = {
  body,
  documentElement: body,
  activeElement: null,
  currentScript: { src: base + 'widget.js' },
  createElement: (tag) => new FakeNode(tag),
  getElementById: (id) => find(body, id),
  addEventListener: (t, f) => documentListeners.addEventListener(t, f),
  removeEventListener: (t, f) => documentListeners.removeEventListener(t, f),
};
const window = { fetch, setTimeout };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const byId = (id) => document.getElementById(id);

function type(card, expiry, cvv) {
  byId('cp-sandbox-card-number').value = card;
  byId('cp-sandbox-exp-date').value = expiry;
  byId('cp-sandbox-cvv').value = cvv;
}

async function waitFor(check, what) {
  for (let i = 0; i < 200; i++) {
    if (check()) { return; }
    await sleep(20);
  }
  throw new Error('timed out waiting for ' + what);
}

const options = {
  publicId: process.env.SANDBOX_PUBLIC_ID, description: 'Подписка', amount: 299, currency: 'RUB',
  accountId: 'user-js', invoiceId: process.env.SANDBOX_INVOICE_ID, email: 'js@example.com', data: { plan: 'monthly' },
};

async function main() {
  const source = await (await fetch(base + 'widget.js')).text();
  vm.runInNewContext(source, { window, document });
  document.currentScript = null;
  const events = [];
  const widget = new window.cp.CloudPayments();
  const callbacks = {
    onSuccess: (opts) => events.push(['onSuccess', opts.invoiceId]),
    onFail: (reason) => events.push(['onFail', reason]),
    onComplete: (result) => events.push(['onComplete', result]),
  };
  const report = { events };
  let pending;

  if (scenario === 'pay-success' || scenario === 'pay-decline') {
    pending = widget.pay('charge', options, callbacks);
    report.labels = ['cp-sandbox-card-number', 'cp-sandbox-exp-date', 'cp-sandbox-cvv'].map(
      (id) => find(body, 'cp-sandbox-dialog').children[0].children.some(
        (wrapper) => wrapper.children.some((c) => c.tagName === 'LABEL' && c.attributes.for === id)));
    report.dialogRole = byId('cp-sandbox-dialog').getAttribute('role');
    report.focused = document.activeElement && document.activeElement.id;
    type(scenario === 'pay-success' ? '4242 4242 4242 4242' : '4000 0566 5566 5556', '12/30', '123');
    byId('cp-sandbox-pay').click();
  } else if (scenario === 'cancel' || scenario === 'escape') {
    // The page's button that opens the widget has the focus, as after a click or Enter on it.
    const opener = body.appendChild(document.createElement('button'));
    opener.setAttribute('id', 'opener');
    opener.focus();
    if (scenario === 'cancel') {
      pending = widget.pay('auth', options, callbacks);
      report.focusedOpen = document.activeElement && document.activeElement.id;
      byId('cp-sandbox-cancel').click();
    } else {
      pending = widget.charge(options, () => events.push(['onSuccess']), (reason) => events.push(['onFail', reason]));
      report.focusedOpen = document.activeElement && document.activeElement.id;
      documentListeners.dispatch('keydown', { key: 'Escape' });
    }
    report.focusedClosed = document.activeElement && document.activeElement.id;
  } else if (scenario === 'escape-in-flight') {
    pending = widget.pay('charge', options, callbacks);
    type('4242 4242 4242 4242', '12/30', '123');
    byId('cp-sandbox-pay').click();
    documentListeners.dispatch('keydown', { key: 'Escape' });
    report.openAfterEscape = byId('cp-sandbox-overlay') !== null;
  } else if (scenario === 'fix-input') {
    pending = widget.pay('charge', options, callbacks);
    type('4242 4242 4242 4241', '12/30', '123');
    byId('cp-sandbox-pay').click();
    await waitFor(() => !byId('cp-sandbox-pay').disabled, 'the form to come back');
    report.firstMessage = byId('cp-sandbox-result').textContent;
    report.eventsAfterTypo = events.length;
    type('4242 4242 4242 4242', '12/30', '123');
    byId('cp-sandbox-pay').click();
  } else if (scenario === 'start') {
    pending = widget.start({
      publicTerminalId: options.publicId, amount: 10, currency: 'RUB', paymentSchema: 'Dual',
      externalId: options.invoiceId, userInfo: { accountId: 'user-js', email: 'js@example.com' }, metadata: { a: 1 },
    });
    type('4242424242424242', '12/30', '123');
    byId('cp-sandbox-pay').click();
  } else {
    throw new Error('unknown scenario ' + scenario);
  }

  report.result = await pending;
  report.resultText = byId('cp-sandbox-result') ? byId('cp-sandbox-result').textContent : null;
  await sleep(1000);
  report.overlayOpen = byId('cp-sandbox-overlay') !== null;
  report.unsafeAttributes = unsafeAttributes;
  report.baseUrl = window.cp.sandboxBaseUrl;
  process.stdout.write(JSON.stringify(report));
}

main().catch((error) => { process.stderr.write(String(error.stack || error)); process.exit(1); });
