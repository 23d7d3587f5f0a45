"""axe-core run in a page by the accessibility tests: what it finds of impact serious or critical is a failure.

axe is evaluated through the DevTools protocol (page.evaluate with the file's text): page.add_script_tag
inserts an inline <script>, which the portal's Content-Security-Policy (script-src 'self') refuses, and a
context with bypass_csp=True would hide the CSP errors the same tests watch for."""
from pathlib import Path

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LOCALES = {"ru": "ru-RU", "en": "en-US"}
FAILING = ("serious", "critical")


def axe_violations(page, label=""):
    """The serious and critical violations on the page as it is now, one line per violation and element."""
    page.wait_for_load_state("load")
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE)
    found = page.evaluate("""() => axe.run(document, {resultTypes: ['violations']})
        .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))})))""")
    return [f"{label or page.url}: {v['id']} ({v['impact']}) {v['help']} at {n['target']}: "
            f"{' '.join(n['summary'].split())}"
            for v in found if v["impact"] in FAILING for n in v["nodes"]]


# For the element that has the keyboard focus: the colour of its focus indicator (outline, else box-shadow) laid
# over what is behind it just outside its box, and the contrast of the two (WCAG 1.4.11 wants 3:1 at least).
FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) { return null; }
  if (el.__focusSeen) { return {again: true}; }  // back at the top: every element has had its turn
  el.__focusSeen = true;
  const rgba = text => {
    const m = /rgba?\\(([^)]+)\\)/.exec(text || '');
    if (!m) { return null; }
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3]));
  const backdrop = node => {
    const layers = [];
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) { break; } }
    }
    return layers.reverse().reduce((below, c) => over(c, below), [255, 255, 255]);
  };
  const style = getComputedStyle(el);
  let ring = null;
  if (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) { ring = rgba(style.outlineColor); }
  else if (style.boxShadow && style.boxShadow !== 'none') { ring = rgba(style.boxShadow); }
  const rect = el.getBoundingClientRect();
  const x = Math.max(0, rect.left - 3), y = Math.min(window.innerHeight - 1, Math.max(0, rect.top + rect.height / 2));
  const behind = document.elementsFromPoint(x, y).find(n => n !== el && !el.contains(n)) || el.parentElement;
  const back = backdrop(behind);
  const luminance = c => {
    const [r, g, b] = c.map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const classes = el.className ? '.' + String(el.className).trim().split(/\\s+/).join('.') : '';
  const describe = el.id ? '#' + el.id : el.tagName.toLowerCase() + classes
    + (el.textContent.trim() ? ' "' + el.textContent.trim().slice(0, 30) + '"' : '');
  if (!ring || ring[3] === 0) { return {element: describe, ratio: 0, ring: null, back: back}; }
  const shown = over(ring, back);
  const [a, b] = [luminance(shown), luminance(back)].sort((p, q) => q - p);
  return {element: describe, ratio: (a + 0.05) / (b + 0.05), ring: shown.map(Math.round), back: back.map(Math.round)};
}"""


def focus_ring_problems(page, label="", most=60, start=None):
    """Tab through the page from its top (or from the element `start` selects, itself included): each focused
    element whose focus indicator is missing or has less than 3:1 contrast against what surrounds it, one line
    each."""
    page.wait_for_load_state("load")
    # Every element unseen again (the same page is walked once per width).
    page.evaluate("""() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);
        document.querySelectorAll('*').forEach(el => { delete el.__focusSeen; }); }""")
    if start is not None:
        page.focus(start)
    problems = []
    for step in range(most):
        if step or start is None:
            page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_RING)
        if focused is None or focused.get("again"):
            break
        if focused["ratio"] < 3:
            problems.append(f"{label or page.url}: focus ring of {focused['element']} is {focused['ring']} on "
                            f"{focused['back']}: {focused['ratio']:.2f}:1, less than 3:1")
    return problems



# At a phone's width: what sticks out past the viewport's right edge (the deepest such elements, not clipped by a
# scrolling ancestor), each stacked table (cells no longer table cells, the header row hidden) that still scrolls
# sideways in its wrapper, and the stacked cells whose ::before does not name their column as its header does. A
# header hidden from sight (.visually-hidden) names nothing to see, so its cells need no label either.
PHONE_LAYOUT = """() => {
  const width = window.innerWidth;
  const problems = [];
  const describe = el => {
    const classes = typeof el.className === 'string' ? el.className.trim().split(/\\s+/).filter(Boolean) : [];
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes.map(c => '.' + c).join('');
  };
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const words = el => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll('.visually-hidden').forEach(n => n.remove());
    return copy.textContent.replace(/\\s+/g, ' ').trim();
  };
  const right = el => el.getBoundingClientRect().right;

  const pageWidth = document.documentElement.scrollWidth;
  if (pageWidth > width) {
    const clipped = el => {
      for (let n = el.parentElement; n && n !== document.body; n = n.parentElement) {
        if (getComputedStyle(n).overflowX !== 'visible' && right(n) <= width + 0.5) { return true; }
      }
      return false;
    };
    const over = [...document.body.querySelectorAll('*')].filter(
      el => shown(el) && right(el) > width + 0.5 && !clipped(el));
    const deepest = over.filter(el => !over.some(other => other !== el && el.contains(other)));
    const named = deepest.slice(0, 5).map(el => `${describe(el)} (right edge ${Math.round(right(el))} px)`);
    problems.push(`the page is ${pageWidth} px wide in a ${width} px viewport; sticking out: ${named.join(', ')}`);
  }

  const label = td => {
    const content = getComputedStyle(td, '::before').content;  // a CSS string, quoted and escaped, or none
    if (!/^".*"$/.test(content)) { return ''; }
    return content.slice(1, -1).replace(/\\\\(.)/g, '$1').replace(/\\s+/g, ' ').trim();
  };
  const isStacked = td => getComputedStyle(td).display !== 'table-cell';
  document.querySelectorAll('table.history').forEach((table, n) => {
    const where = table.id ? '#' + table.id : `table.history no. ${n + 1}`;
    if (!shown(table) || ![...table.querySelectorAll('tbody td')].some(isStacked)) { return; }
    const wrap = table.parentElement;
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      problems.push(`${where} is stacked yet ${wrap.scrollWidth} px wide `
        + `in its ${wrap.clientWidth} px ${describe(wrap)}`);
    }
    if (!table.tHead || !table.tHead.rows.length) { return; }  // a key-value table: each row's <th> is its label
    const headers = [...table.tHead.rows[0].cells].flatMap(th => Array(th.colSpan).fill(words(th)));
    [...table.tBodies].flatMap(body => [...body.rows]).forEach((row, r) => {
      let column = 0;
      [...row.cells].forEach(td => {
        const header = headers[column] || '';
        column += td.colSpan;
        if (td.colSpan > 1 || !header || !isStacked(td) || !shown(td) || !words(td)) { return; }
        if (label(td) !== header) {
          problems.push(`${where} row ${r + 1}: the cell "${words(td).slice(0, 30)}" of column "${header}" `
            + `is labelled "${label(td)}"`);
        }
      });
    });
  });
  return problems;
}"""


def phone_layout_problems(page, label=""):
    """At the page's present (phone) width: the page is no wider than the viewport, and every stacked table fits its
    wrapper and has its cells labelled with their column's header; one line per problem."""
    page.wait_for_load_state("load")
    return [f"{label or page.url}: {problem}" for problem in page.evaluate(PHONE_LAYOUT)]
