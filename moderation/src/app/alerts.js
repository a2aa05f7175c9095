// "Never miss one": the count in the tab title and in the favicon, and an optional
// sound. Nothing of any message goes into an alert: only a number. The settings (sound
// on or off, which sound, how loud) are the staff member's choice on this managed
// device, kept in localStorage; the sound is off until they turn it on.
const KEY = "helpline-console-settings";
const DEFAULTS = { sound: false, tone: "chime", volume: 60, language: "" };
export const TONES = {
  chime: [[880, 0, 0.18], [1320, 0.16, 0.28]],
  beep: [[1000, 0, 0.12], [1000, 0.2, 0.12]],
  soft: [[523, 0, 0.35]],
};

export function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "{}");
    const out = { ...DEFAULTS };
    if (typeof saved.sound === "boolean") out.sound = saved.sound;
    if (TONES[saved.tone]) out.tone = saved.tone;
    if (Number.isInteger(saved.volume) && saved.volume >= 0 && saved.volume <= 100) out.volume = saved.volume;
    if (saved.language === "nl" || saved.language === "en") out.language = saved.language;
    return out;
  } catch {
    return { ...DEFAULTS };
  }
}

export function saveSettings(settings) {
  try { localStorage.setItem(KEY, JSON.stringify(settings)); } catch { /* private mode: keep in memory */ }
}

let audio = null;
/** Play the chosen sound (when `force` or the sound is on); counts plays on <body>. */
export function playSound(settings, force = false) {
  if (!settings.sound && !force) return false;
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const start = audio.currentTime + 0.01;
    const gain = audio.createGain();
    gain.gain.value = (settings.volume / 100) * 0.4;
    gain.connect(audio.destination);
    for (const [freq, at, length] of TONES[settings.tone] || TONES.chime) {
      const osc = audio.createOscillator();
      osc.type = "sine";
      osc.frequency.value = freq;
      osc.connect(gain);
      osc.start(start + at);
      osc.stop(start + at + length);
    }
  } catch {
    return false; // no audio device: the title and icon still count
  }
  const body = document.body.dataset;
  body.sounds = String(Number(body.sounds || 0) + 1);
  return true;
}

let iconUrl = null;
/** "(3) Helpline console" and a favicon with the number; the plain title at 0. */
export function showCount(count, title) {
  document.title = count > 0 ? `(${count > 99 ? "99+" : count}) ${title}` : title;
  const text = count > 99 ? "99+" : String(count);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#0b5cad"/>`
    + (count > 0 ? `<circle cx="21" cy="11" r="11" fill="#b00020"/><text x="21" y="15.5" font-size="${text.length > 2 ? 9 : 13}" font-family="sans-serif" font-weight="700" text-anchor="middle" fill="#fff">${text}</text>` : "")
    + `</svg>`;
  let link = document.querySelector('link[rel="icon"]');
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    document.head.append(link);
  }
  if (link.dataset.count === text && iconUrl) return;
  // The old icon may still be loading: let it go a little later.
  if (iconUrl) setTimeout(URL.revokeObjectURL, 10_000, iconUrl);
  iconUrl = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  link.type = "image/svg+xml";
  link.href = iconUrl;
  link.dataset.count = count > 0 ? text : "0";
}
