// Return codes: shown once, entered later. A chunk of its own: most young people never
// need it, so it (and whatever it pulls in) loads only when used.
import { h } from "./dom.js";

export async function showCode(state, { render }) {
  const value = await state.chat.requestReturnCode();
  state.code = { value: String(value), screen: codeScreen };
  render();
}

function codeScreen(state) {
  const t = state.t;
  const words = state.code.value.split(/[\s-]+/);
  const forget = () => { state.code = null; state.hadCode = true; state.screen = "chat"; };
  return h("section", { "aria-labelledby": "rc-title", class: "code" },
    h("h1", { id: "rc-title" }, t.codeTitle),
    h("p", { class: "code-words", id: "code-words", lang: "en", dir: "ltr" },
      ...words.map((w) => h("span", {}, w))),
    h("p", {}, t.codeAdvice),
    h("div", { class: "row" },
      h("button", { type: "button", class: "primary", id: "code-done", onclick: () => {
        forget();
        state.renderAgain();
      } }, t.codeDone),
      h("button", { type: "button", class: "ghost", id: "code-destroy", onclick: async () => {
        try { await state.chat.destroyReturnCode(); state.notice = t.codeDestroyed; } catch {
          state.error = t.error;
        }
        forget();
        state.renderAgain();
      } }, t.destroyCode)));
}

export function enterCodeScreen(state, { makeChat, render }) {
  const t = state.t;
  const input = h("input", { id: "code-input", type: "text", autocomplete: "off",
                             autocapitalize: "none", spellcheck: "false", lang: "en", dir: "ltr" });
  const form = h("form", { class: "compose", onsubmit: (e) => {
    e.preventDefault();
    // Written down with spaces, dashes or both: the code itself joins its words with "-".
    const code = input.value.trim().toLowerCase().split(/[\s,.-]+/).filter(Boolean).join("-");
    if (!code) return;
    (async () => {
      const chat = makeChat();
      try {
        await chat.connect();
        await chat.resumeWithCode(code);
      } catch {
        chat.close();
        state.error = t.badCode;
        render();
        return;
      }
      state.error = "";
      state.chat = chat;
      state.screen = "start";
      render();
    })();
  } }, h("label", { for: "code-input" }, t.codeLabel), input, h("button", { type: "submit" }, t.open));
  return h("section", { "aria-labelledby": "ec-title" },
    h("h1", { id: "ec-title" }, t.enterCode), form,
    h("button", { type: "button", class: "link", onclick: () => { state.screen = "start"; render(); } },
      t.back));
}
