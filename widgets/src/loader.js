// The host-page snippet: a launcher and a quick-exit button, and the chat app in an
// iframe from the helpline's widget origin. It never sees a key or a message: those
// stay inside the iframe. postMessage goes to the widget origin only, and only messages
// from that origin and that frame are read.
//
// <script src="https://WIDGET/widget/loader.js" integrity="sha384-..." crossorigin="anonymous"
//   data-server="https://CHAT-SERVER" data-widget="https://WIDGET"
//   data-fingerprint="<organisation signing-key fingerprint>" data-language="nl"
//   data-campaign="school-2026" data-look="default|disguise" data-exit-url="https://..."></script>

const script = document.currentScript;
const opt = (name) => (script && script.getAttribute("data-" + name)) || "";
const widget = new URL(opt("widget") || (script && script.src) || location.href).origin;
const look = opt("look") === "disguise" ? "disguise" : "default";
let exitUrl = opt("exit-url") || "https://www.google.com/";

const TEXTS = {
  nl: ["Chat met ons", "Snel weg", "Notities"],
  en: ["Chat with us", "Quick exit", "Notes"],
  pl: ["Czat z nami", "Szybkie wyjście", "Notatki"],
  ro: ["Vorbește cu noi", "Ieșire rapidă", "Notițe"],
  es: ["Chatea con nosotros", "Salida rápida", "Notas"],
  fr: ["Discuter avec nous", "Sortie rapide", "Notes"],
  pt: ["Fala connosco", "Saída rápida", "Notas"],
  ar: ["تحدث معنا", "خروج سريع", "ملاحظات"],
};
const browser = (navigator.language || "nl").slice(0, 2);
const lang = TEXTS[opt("language")] ? opt("language") : TEXTS[browser] ? browser : "nl";
const [chatLabel, exitLabel, disguiseLabel] = TEXTS[lang];

const host = document.createElement("div");
const root = host.attachShadow({ mode: "open" });
const sheet = new CSSStyleSheet();
// Constructed style sheets: no inline <style>, so a host page's strict CSP still works.
sheet.replaceSync(`
:host{all:initial}
.b{position:fixed;z-index:2147483646;font:600 16px/1.2 system-ui,sans-serif;border:0;
border-radius:24px;padding:12px 18px;min-height:44px;cursor:pointer}
.b:focus-visible{outline:3px solid #1a1a1a;outline-offset:3px;box-shadow:0 0 0 6px #fff}
.l{bottom:16px;inset-inline-end:16px;background:#0b5cad;color:#fff}
.d .l{background:#e8e8e8;color:#1a1a1a}
.x{top:12px;inset-inline-end:12px;background:#1a1a1a;color:#fff}
iframe{position:fixed;z-index:2147483645;bottom:76px;inset-inline-end:16px;width:min(400px,calc(100vw - 32px));
height:min(640px,calc(100vh - 140px));border:1px solid #767676;border-radius:12px;background:#fff}
[hidden]{display:none!important}
@media (max-width:480px){iframe{inset:56px 0 0 0;width:100%;height:calc(100% - 56px);border-radius:0}}`);
root.adoptedStyleSheets = [sheet];
if (look === "disguise") root.host.classList.add("d");
const wrap = document.createElement("div");
if (look === "disguise") wrap.className = "d";
root.append(wrap);

const button = (cls, text) => {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "b " + cls;
  b.textContent = text;
  wrap.append(b);
  return b;
};
const launcher = button("l", look === "disguise" ? disguiseLabel : chatLabel);
launcher.setAttribute("aria-expanded", "false");
const exit = button("x", exitLabel);
let frame = null;
let ready = false;
let exiting = false;

const post = (message) => frame && frame.contentWindow.postMessage(message, widget);

function open() {
  if (!frame) {
    frame = document.createElement("iframe");
    frame.title = look === "disguise" ? disguiseLabel : chatLabel;
    frame.referrerPolicy = "no-referrer";
    frame.src = widget + "/chat";
    wrap.insertBefore(frame, launcher);
    // Until the app answers, offer the options again (it may still be loading).
    let tries = 0;
    const offer = () => {
      if (ready || exiting || ++tries > 100) return;
      post({ type: "hl:config", server: opt("server") || widget, fingerprint: opt("fingerprint"),
             language: opt("language"), campaign: opt("campaign"), look });
      setTimeout(offer, 150);
    };
    frame.addEventListener("load", offer, { once: true });
  }
  frame.hidden = false;
  launcher.setAttribute("aria-expanded", "true");
  frame.focus();
}

function close() {
  if (frame) frame.hidden = true;
  launcher.setAttribute("aria-expanded", "false");
  launcher.focus();
}

// Quick exit: hide everything at once, let the app end the chat and clear its origin
// (it goes to /exit, which answers Clear-Site-Data), then leave with location.replace so
// Back does not return here. Never wait more than 1.5 s.
function quickExit() {
  if (exiting) return;
  exiting = true;
  wrap.hidden = true;
  const leave = () => location.replace(exitUrl);
  if (!frame || !ready) return leave();
  let loads = 0;
  frame.addEventListener("load", () => { if (++loads === 1) leave(); });
  post({ type: "hl:exit" });
  setTimeout(leave, 1500);
}

launcher.addEventListener("click", () => (frame && !frame.hidden ? close() : open()));
exit.addEventListener("click", quickExit);
let escapes = [];
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  const now = Date.now();
  escapes = escapes.filter((t) => now - t < 2000).concat(now);
  if (escapes.length >= 3) quickExit();
});
window.addEventListener("message", (e) => {
  if (e.origin !== widget || !frame || e.source !== frame.contentWindow) return;
  const m = e.data || {};
  if (m.type === "hl:ready") {
    ready = true;
    if (typeof m.exitUrl === "string" && /^https?:\/\//.test(m.exitUrl)) exitUrl = m.exitUrl;
  } else if (m.type === "hl:close") close();
  else if (m.type === "hl:exit") quickExit();
});

(document.body || document.documentElement).append(host);
