// Building the page with DOM calls only: text goes in as textContent, never as HTML,
// so nothing a user or the server wrote can become markup.

/** An element with attributes (strings), properties for "on*" handlers, and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else {
      node.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

export function setText(node, text) {
  node.textContent = text;
}

export function clear(node) {
  node.replaceChildren();
}
