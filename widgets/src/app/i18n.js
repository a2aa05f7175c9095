// Interface languages. Each is its own chunk: only the one in use is loaded.
export const LANGUAGES = [
  ["nl", "Nederlands"], ["en", "English"], ["pl", "Polski"], ["ro", "Română"],
  ["es", "Español"], ["fr", "Français"], ["pt", "Português"], ["ar", "العربية"],
];
const LOAD = {
  nl: () => import("./i18n/nl.js"), en: () => import("./i18n/en.js"),
  pl: () => import("./i18n/pl.js"), ro: () => import("./i18n/ro.js"),
  es: () => import("./i18n/es.js"), fr: () => import("./i18n/fr.js"),
  pt: () => import("./i18n/pt.js"), ar: () => import("./i18n/ar.js"),
};

// The snippet's choice first, then the browser's languages, then the page default.
export function pickLanguage(snippet, fallback) {
  const wanted = [snippet, ...(navigator.languages || [navigator.language || ""]), fallback];
  for (const w of wanted) {
    const code = String(w || "").toLowerCase().slice(0, 2);
    if (LOAD[code]) return code;
  }
  return "nl";
}

export async function loadStrings(code) {
  return (await (LOAD[code] || LOAD.nl)()).default;
}
