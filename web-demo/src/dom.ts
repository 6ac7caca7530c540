// A few DOM helpers: element creation, notices, formatting.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** `h('button', {class: 'x', onclick: f}, 'Send')`: attributes, `on*` listeners, children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'value' && 'value' in element) {
      (element as HTMLInputElement).value = String(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    element.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `element`. */
export function fill(element: Element, ...children: (Child | Child[])[]): void {
  element.replaceChildren();
  append(element, children);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`#${id} is missing`);
  }
  return element as T;
}

/** A notice at the bottom of the page that goes away by itself (errors stay longer). */
export function toast(text: string, kind: 'error' | 'info' | 'warning' = 'info'): void {
  let area = document.getElementById('toasts');
  if (!area) {
    area = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.appendChild(area);
  }
  const note = h(
    'div',
    { class: `toast ${kind}`, 'data-testid': `toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', {}, text),
    h('button', { class: 'link', 'aria-label': 'Dismiss', onclick: () => note.remove() }, '×'),
  );
  area.appendChild(note);
  setTimeout(() => note.remove(), kind === 'error' ? 15000 : 6000);
}

/** `ABCDE FGHIJ …`: a fingerprint in 12 groups of 5, as people compare it. */
export function groupFingerprint(fingerprint: string): string {
  return (fingerprint.match(/.{1,5}/g) ?? []).join(' ');
}

export function formatTime(ms: number): string {
  const date = new Date(ms);
  const today = new Date();
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (date.toDateString() === today.toDateString()) {
    return time;
  }
  return `${date.toLocaleDateString()} ${time}`;
}

export function initial(name: string): string {
  return (name.trim()[0] ?? '?').toUpperCase();
}

const ICONS = {
  lock: '<path d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2h.5a1 1 0 0 1 1 1v5.5a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1h.5zM6 7h4V5a2 2 0 0 0-4 0v2z"/>',
  image: '<path d="M2.5 2.5h11a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1h-11a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1zM3 4v6.4l3-3 2.2 2.2 1.4-1.4L13 11.6V4H3zm7.5 1a1.2 1.2 0 1 1 0 2.4 1.2 1.2 0 0 1 0-2.4z"/>',
  clock: '<path d="M8 1.5a6.5 6.5 0 1 1 0 13 6.5 6.5 0 0 1 0-13zM8 3a5 5 0 1 0 0 10A5 5 0 0 0 8 3zm-.75 1.8h1.5v3l2.1 1.25-.75 1.3-2.85-1.7V4.8z"/>',
} as const;

/** A small inline SVG icon (no emoji font needed). */
export function icon(name: keyof typeof ICONS): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', `icon icon-${name}`);
  svg.setAttribute('aria-hidden', 'true');
  svg.innerHTML = ICONS[name];
  return svg;
}
