// Tiny DOM helpers. Text only ever goes in through textContent or attribute values, never as HTML.

/**
 * Create an element with attributes and text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} [attrs] attributes (``class`` included)
 * @param {string} [text] text content
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, text) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * Remove every child of ``el``.
 * @param {Element} el
 */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * A <select> with the given [value, text] options.
 * @param {Array<[string, string]>} options
 * @param {string} title tooltip and accessible name
 * @returns {HTMLSelectElement}
 */
export function select(options, title) {
  const s = h("select", { title, "aria-label": title });
  for (const [value, text] of options) s.appendChild(h("option", { value }, text));
  return s;
}
