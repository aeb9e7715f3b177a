// The builder page's code editor and its one syntax highlighter, bundled by esbuild into
// static/vendor/codemirror.js at set-up (manage.py build_editor): nothing is fetched at page time.
//
// window.KilnEditor:
//   open(parent, {path, text, onChange, onSave}) -> {getText(), setText(text), focus(), goToLine(n), destroy(), view}
//   highlight(codeElement, text, path)           the read-only file view, coloured
//   highlightLines(lines, path) -> [Node[]]       each diff line's text, coloured, parsed as one document
//
// Editor and read-only views use the same highlighter (classHighlighter: `tok-*` classes), so one
// palette in kiln.css colours both.
import { basicSetup } from "codemirror";
import { EditorView, keymap } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting } from "@codemirror/language";
import { classHighlighter, highlightCode } from "@lezer/highlight";
import { javascript } from "@codemirror/lang-javascript";
import { css } from "@codemirror/lang-css";
import { html } from "@codemirror/lang-html";
import { json } from "@codemirror/lang-json";

// The language support for a path, by its extension (null: plain text, no colours).
function languageFor(path) {
  const ext = (path.split(".").pop() || "").toLowerCase();
  if (["js", "jsx", "mjs", "cjs"].includes(ext)) return javascript({ jsx: true });
  if (["ts", "tsx"].includes(ext)) return javascript({ jsx: ext === "tsx", typescript: true });
  if (ext === "css") return css();
  if (["html", "htm"].includes(ext)) return html();
  if (ext === "json") return json();
  return null;
}

// The editor lives in a shadow root of `parent`: there CodeMirror's own styles go into a constructed
// stylesheet (CSSOM), which the builder's CSP (style-src 'self', no inline <style>) allows, where on
// the document they would be an inline <style> the CSP blocks. The page's own stylesheets are linked
// into it too, so the one palette in kiln.css colours the editor as it colours the read-only views.
function shadowFor(parent) {
  if (!parent.shadowRoot) {
    // Keys typed in the editor are the editor's: a page's shortcut listener sees them retargeted to
    // this host (not to .cm-editor, which is inside the shadow root) and would take them otherwise.
    parent.addEventListener("keydown", (event) => event.stopPropagation());
  }
  const shadow = parent.shadowRoot || parent.attachShadow({ mode: "open" });
  shadow.replaceChildren(...[...document.querySelectorAll('link[rel="stylesheet"]')].map((link) => link.cloneNode()));
  const host = document.createElement("div");
  host.className = "kiln-editor-host";
  shadow.append(host);
  return { shadow, host };
}

// Typing over a selection: Chromium's own editing carries the replaced text's inline style into a
// style attribute, which the builder's CSP refuses (a report per keystroke). Insert the text through
// the editor instead, through its input handlers (closeBrackets and friends) as typing would.
const typeOverSelection = EditorView.domEventHandlers({
  beforeinput(event, view) {
    const { from, to } = view.state.selection.main;
    if (event.inputType !== "insertText" || !event.data || view.composing || from === to) return false;
    event.preventDefault();
    const text = event.data;
    const insert = () => view.state.update(view.state.replaceSelection(text), { userEvent: "input.type", scrollIntoView: true });
    if (!view.state.facet(EditorView.inputHandler).some((handler) => handler(view, from, to, text, insert))) {
      view.dispatch(insert());
    }
    return true;
  },
});

function open(parent, { path, text, onChange, onSave }) {
  const language = languageFor(path);
  const extensions = [
    basicSetup,
    keymap.of([
      indentWithTab,
      { key: "Mod-s", preventDefault: true, run: () => { if (onSave) onSave(); return true; } },
    ]),
    syntaxHighlighting(classHighlighter),
    typeOverSelection,
    EditorView.contentAttributes.of({ "aria-label": `Editing ${path}` }),
  ];
  if (language) extensions.push(language);
  if (onChange) {
    extensions.push(EditorView.updateListener.of((update) => {
      if (update.docChanged) onChange(update.state.doc.toString());
    }));
  }
  const { shadow, host } = shadowFor(parent);
  const view = new EditorView({ state: EditorState.create({ doc: text, extensions }), parent: host, root: shadow });
  return {
    view,
    getText: () => view.state.doc.toString(),
    setText: (value) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } }),
    focus: () => view.focus(),
    // Put the cursor at the start of line `number` (1-based, clamped) and scroll it into view.
    goToLine: (number) => {
      const line = view.state.doc.line(Math.max(1, Math.min(number, view.state.doc.lines)));
      view.dispatch({ selection: { anchor: line.from }, scrollIntoView: true });
      view.focus();
    },
    destroy: () => view.destroy(),
  };
}

// Coloured spans for `text`, handed to put(text, classes) and br() in document order.
function walk(text, path, put, br) {
  const language = languageFor(path);
  if (!language) {
    text.split("\n").forEach((line, i) => { if (i) br(); put(line, ""); });
    return;
  }
  const tree = language.language.parser.parse(text);
  highlightCode(text, tree, classHighlighter, put, br);
}

function span(text, classes) {
  if (!classes) return document.createTextNode(text);
  const s = document.createElement("span");
  s.className = classes;
  s.textContent = text;
  return s;
}

function highlight(code, text, path) {
  const out = [];
  walk(text, path, (t, classes) => out.push(span(t, classes)), () => out.push(document.createTextNode("\n")));
  code.replaceChildren(...out);
  code.dataset.highlighted = languageFor(path) ? "true" : "plain";
}

// Diff lines are fragments of a file: parsed together they keep the context a line alone lacks (an
// open JSX tag, a multi-line string), then split back into one list of nodes per line.
function highlightLines(lines, path) {
  const result = [[]];
  walk(lines.join("\n"), path, (t, classes) => result[result.length - 1].push(span(t, classes)),
       () => result.push([]));
  while (result.length < lines.length) result.push([]);
  return result;
}

window.KilnEditor = { open, highlight, highlightLines, languageFor: (path) => !!languageFor(path) };
