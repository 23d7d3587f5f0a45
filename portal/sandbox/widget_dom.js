/* DOM helpers shared by the sandboxes' widget scripts, inlined into each script when it is served. */
function el(tag, attrs, style, children) {
  var node = document.createElement(tag);
  var key;
  for (key in attrs || {}) {
    if (!Object.prototype.hasOwnProperty.call(attrs, key)) { continue; }
    if (key === 'text') { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
  }
  // Styles go through the CSSOM, which a CSP without 'unsafe-inline' still allows.
  for (key in style || {}) {
    if (Object.prototype.hasOwnProperty.call(style, key)) { node.style[key] = style[key]; }
  }
  (children || []).forEach(function (child) { node.appendChild(child); });
  return node;
}

function field(id, label, attrs) {
  var input = el('input', Object.assign({ id: id, name: id, type: 'text', required: 'required' }, attrs),
    { display: 'block', width: '100%', boxSizing: 'border-box', padding: '8px', marginTop: '4px',
      fontSize: '16px', border: '1px solid #bbb', borderRadius: '4px' });
  var wrapper = el('div', {}, { marginBottom: '12px' }, [
    el('label', { 'for': id, text: label }, { display: 'block', fontSize: '14px' }),
    input
  ]);
  return { wrapper: wrapper, input: input };
}