// The upload page: a resumable tus upload (tus-js-client) to /api/uploads/ with the event,
// the room and the recording's start as metadata. The start is asked before anything is
// sent: read from the file on this computer when it holds one (MP4/MOV `mvhd`, Matroska
// `DateUTC`), typed otherwise; the server checks room and start when the upload is
// created, so a refusal comes before the first byte. A whole file refused at the end for
// its room or start is kept by the server: the correction form admits it without sending
// it again. It resumes an earlier upload of the same file (tus fingerprint in
// localStorage), retries on network errors, waits for the network to come back when the
// browser goes offline, and shows progress, speed and time left. The file's SHA-256 is
// computed in the browser only for files up to 64 MB (reading a multi-gigabyte recording
// into memory is not worth it: the server hashes every upload as it arrives anyway).
"use strict";
(function () {
  const NBSP = "\u00a0";
  const HASH_LIMIT = 64 * 1000 * 1000;
  const form = document.getElementById("envoi");
  if (!form) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const bar = $("progression"), barText = $("progression-texte");
  const message = $("message"), errorBox = $("erreur");
  const sendButton = $("envoyer"), pauseButton = $("pause"), resumeButton = $("reprendre");
  let upload = null, samples = [], waitingForNetwork = false;
  // Pause asked while the file is still being read for its fingerprint (no upload yet).
  let pauseAsked = false;

  function two(n) { return String(n).padStart(2, "0"); }

  function size(bytes) {
    const units = ["octets", "ko", "Mo", "Go", "To"];
    let value = bytes, unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    const text = unit === 0 || value >= 100 ? value.toFixed(0) : value.toFixed(1);
    return text.replace(".", ",") + NBSP + units[unit];
  }

  function remaining(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    if (h) return h + NBSP + "h" + NBSP + two(m) + NBSP + "min";
    if (m) return m + NBSP + "min" + NBSP + two(s) + NBSP + "s";
    return s + NBSP + "s";
  }

  function say(text) { message.textContent = text; }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  // -- the recording's start, as ISO 8601 with the offset of the chosen time zone --------

  function offsetAt(ms, timeZone) {
    const parts = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit" }).formatToParts(new Date(ms));
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"),
                          get("minute"), get("second"));
    return wall - Math.floor(ms / 1000) * 1000;
  }

  function zonedIso(local, timeZone) {
    const [day, time] = local.split("T");
    const [y, mo, d] = day.split("-").map(Number);
    const [h, mi, s = 0] = time.split(":").map(Number);
    const wall = Date.UTC(y, mo - 1, d, h, mi, Math.floor(s));
    const offset = offsetAt(wall - offsetAt(wall, timeZone), timeZone);
    const minutes = Math.round(Math.abs(offset) / 60000);
    const sign = offset < 0 ? "-" : "+";
    return day + "T" + two(h) + ":" + two(mi) + ":" + two(Math.floor(s)) + sign +
      two(Math.floor(minutes / 60)) + ":" + two(minutes % 60);
  }

  function wallTime(ms, timeZone) {  // "2026-03-03T09:28:00", the instant in that zone
    const parts = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit" }).formatToParts(new Date(ms));
    const get = (type) => parts.find((p) => p.type === type).value;
    return get("year") + "-" + get("month") + "-" + get("day") + "T" + get("hour") + ":" + get("minute") + ":" + get("second");
  }

  function frenchMoment(local) {
    const [day, time] = local.split("T");
    const [y, mo, d] = day.split("-").map(Number);
    const date = new Date(Date.UTC(y, mo - 1, d, 12));
    return date.toLocaleDateString("fr-FR", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }) + " à " + time.slice(0, 5);
  }

  // -- the recording's start, read from the file here (nothing is sent) ------------------

  async function bytes(file, start, length) {
    return new DataView(await file.slice(start, Math.min(file.size, start + length)).arrayBuffer());
  }

  function type(view, at) {
    return String.fromCharCode(view.getUint8(at), view.getUint8(at + 1), view.getUint8(at + 2), view.getUint8(at + 3));
  }

  // MP4 and QuickTime: the `mvhd` box of `moov` counts seconds since 1904-01-01 UTC.
  async function mp4CreationTime(file) {
    let offset = 0;
    for (let boxes = 0; offset + 8 <= file.size && boxes < 10000; boxes++) {
      const head = await bytes(file, offset, 16);
      let size = head.getUint32(0), header = 8;
      const name = type(head, 4);
      if (size === 1 && head.byteLength >= 16) { size = Number(head.getBigUint64(8)); header = 16; }
      else if (size === 0) size = file.size - offset;
      if (size < header) return null;
      if (name === "moov") return mvhd(file, offset + header, offset + size);
      offset += size;
    }
    return null;
  }

  async function mvhd(file, start, end) {
    let offset = start;
    while (offset + 8 <= end) {
      const head = await bytes(file, offset, 24);
      const size = head.getUint32(0);
      if (size < 8) return null;
      if (type(head, 4) === "mvhd") {
        const seconds = head.getUint8(8) === 1 ? Number(head.getBigUint64(12)) : head.getUint32(12);
        return seconds > 0 ? Date.UTC(1904, 0, 1) + seconds * 1000 : null;
      }
      offset += size;
    }
    return null;
  }

  // Matroska and WebM: DateUTC (id 0x4461, 8 bytes) counts nanoseconds since 2001-01-01 UTC.
  async function matroskaCreationTime(file) {
    const view = await bytes(file, 0, 1 << 20);
    if (view.byteLength < 4 || view.getUint32(0) !== 0x1A45DFA3) return null;
    for (let i = 0; i + 11 <= view.byteLength; i++) {
      if (view.getUint8(i) === 0x44 && view.getUint8(i + 1) === 0x61 && view.getUint8(i + 2) === 0x88) {
        const nanoseconds = view.getBigInt64(i + 3);
        return Date.UTC(2001, 0, 1) + Number(nanoseconds / 1000000n);
      }
    }
    return null;
  }

  async function creationTime(file) {
    try {
      return (await mp4CreationTime(file)) || (await matroskaCreationTime(file));
    } catch (error) {
      console.warn("creation time not read:", error);
      return null;
    }
  }

  async function fileChosen() {
    const file = $("fichier").files[0];
    const line = $("lecture-fichier");
    if (!file) { line.textContent = ""; return; }
    line.textContent = "Lecture de l’heure d’enregistrement dans le fichier…";
    const found = await creationTime(file);
    if (found === null) {
      line.textContent = "Le fichier ne dit pas quand il a été enregistré" + NBSP + ": saisissez l’heure de début ci-dessous.";
      return;
    }
    const local = wallTime(found, $("fuseau").value);
    $("debut").value = local;
    line.textContent = "Heure lue dans le fichier" + NBSP + ": " + frenchMoment(local) + " (" + $("fuseau").value + "). Vérifiez-la avant d’envoyer.";
  }

  async function sha256(file) {
    if (file.size > HASH_LIMIT || !(window.crypto && crypto.subtle)) return null;
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // -- progress ---------------------------------------------------------------------------

  function progress(sent, total) {
    const now = performance.now();
    samples.push([now, sent]);
    while (samples.length > 2 && now - samples[0][0] > 5000) samples.shift();
    const [t0, b0] = samples[0];
    const speed = now > t0 ? (sent - b0) / ((now - t0) / 1000) : 0;
    const percent = total ? Math.floor((100 * sent) / total) : 0;
    let text = percent + NBSP + "%";
    let detail = text + " — " + size(sent) + " sur " + size(total);
    if (speed > 0 && sent < total) {
      text += " — reste " + remaining((total - sent) / speed);
      detail += " — " + size(speed) + "/s — reste " + remaining((total - sent) / speed);
    }
    bar.value = percent;
    bar.textContent = percent + NBSP + "%";
    bar.setAttribute("aria-valuetext", text);
    barText.textContent = detail;
  }

  // -- errors -----------------------------------------------------------------------------

  function serverAnswer(error) {
    const response = error.originalResponse;
    if (!response) return {};
    try { return JSON.parse(response.getBody() || "") || {}; } catch (e) { return {}; }
  }

  function serverMessage(error) {
    const response = error.originalResponse;
    if (!response) return null;
    const body = response.getBody() || "";
    const data = serverAnswer(error);
    if (typeof data.error === "string") return data.error;
    if (body.trim()) return body.trim();
    return "Le serveur a refusé l’envoi (erreur " + response.getStatus() + ")" + NBSP + ": réessayez, ou prévenez l’administrateur.";
  }

  function onError(error) {
    const refused = serverMessage(error);
    if (refused && error.originalResponse.getStatus() < 500) {
      const held = serverAnswer(error).held;
      buttons("idle");
      upload = null;
      if (held) {
        showError("");
        say("Fichier reçu en entier, mais pas encore admis.");
        openCorrection(held, refused, $("salle").value, $("debut").value, $("fichier").files[0].name);
        return;
      }
      showError(refused);
      say("Envoi refusé" + NBSP + ": rien n’a été gardé.");
      return;
    }
    if (!navigator.onLine) {
      say("Connexion perdue" + NBSP + ": l’envoi reprendra tout seul au retour du réseau.");
      waitForNetwork();
    } else {
      say("Le serveur ne répond plus" + NBSP + ": cliquez sur «" + NBSP + "Reprendre l’envoi" + NBSP + "» dans un instant" + NBSP + "; les morceaux déjà envoyés sont conservés.");
    }
    buttons("stopped");
  }

  function waitForNetwork() {
    if (waitingForNetwork) return;
    waitingForNetwork = true;
    window.addEventListener("online", () => {
      waitingForNetwork = false;
      say("Réseau rétabli" + NBSP + ": reprise de l’envoi…");
      restart();
    }, { once: true });
  }

  function onShouldRetry(error, attempt) {
    const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
    const retry = (status < 400 || status >= 500 || status === 409 || status === 423) && navigator.onLine;
    if (retry) say("Connexion interrompue" + NBSP + ": nouvel essai automatique (" + (attempt + 1) + "/5)…");
    return retry;
  }

  function onSuccess() {
    bar.value = 100;
    bar.textContent = "100" + NBSP + "%";
    bar.setAttribute("aria-valuetext", "100" + NBSP + "% — terminé");
    barText.textContent = "100" + NBSP + "% — envoi terminé";
    say("Envoi terminé" + NBSP + ": l’enregistrement est reçu et son analyse va commencer.");
    $("suite").hidden = false;
    buttons("idle");
    upload = null;
  }

  function buttons(state) {
    sendButton.disabled = state === "sending" || state === "stopped";
    pauseButton.hidden = state !== "sending";
    resumeButton.hidden = state !== "stopped";
  }

  function restart() {
    showError("");
    buttons("sending");
    if (!upload) {  // still preparing: begin() starts it when ready
      pauseAsked = false;
      say("Préparation de l’envoi…");
      return;
    }
    samples = [];
    say("Envoi repris" + NBSP + ": il continue là où il s’était arrêté…");
    upload.start();
  }

  function pause() {
    if (upload) upload.abort();
    else pauseAsked = true;
    buttons("stopped");
    say("Envoi en pause" + NBSP + ": cliquez sur «" + NBSP + "Reprendre l’envoi" + NBSP + "» pour continuer.");
  }

  // -- starting ---------------------------------------------------------------------------

  async function metadata(file) {
    const data = { filename: file.name, filetype: file.type || "application/octet-stream",
                   event: form.dataset.event, room: $("salle").value,
                   started_at: zonedIso($("debut").value, $("fuseau").value) };
    say("Préparation de l’envoi…");
    const digest = await sha256(file);
    if (digest) data.sha256 = digest;
    return data;
  }

  async function begin(event) {
    event.preventDefault();
    showError("");
    const file = $("fichier").files[0];
    if (!file) {
      showError("Choisissez d’abord le fichier de l’enregistrement.");
      $("fichier").focus();
      return;
    }
    if (!$("debut").value) {
      showError("Indiquez l’heure de début de l’enregistrement" + NBSP + ": le fichier ne la contient pas, et sans elle ses séances ne peuvent pas être retrouvées. Rien n’a été envoyé.");
      $("debut").focus();
      return;
    }
    if (typeof tus === "undefined") {
      showError("La bibliothèque d’envoi manque sur le serveur (scripts/setup.sh)" + NBSP + ": prévenez l’administrateur.");
      return;
    }
    if (!tus.isSupported) {
      showError("Ce navigateur ne permet pas l’envoi reprenable" + NBSP + ": utilisez une version récente de Firefox, Chrome, Edge ou Safari.");
      return;
    }
    pauseAsked = false;
    buttons("sending");
    const meta = await metadata(file);
    upload = new tus.Upload(file, {
      endpoint: form.dataset.endpoint,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      chunkSize: 8 * 1024 * 1024,
      metadata: meta,
      headers: { "X-CSRF-Token": csrf },
      removeFingerprintOnSuccess: true,
      onProgress: progress,
      onShouldRetry,
      onError,
      onSuccess,
    });
    const previous = await upload.findPreviousUploads();
    const same = previous.filter((p) => p.metadata && p.metadata.event === meta.event &&
      p.metadata.room === meta.room && (p.metadata.started_at || "") === (meta.started_at || ""));
    if (same.length) {
      same.sort((a, b) => (a.creationTime < b.creationTime ? 1 : -1));
      upload.resumeFromPreviousUpload(same[0]);
    }
    samples = [];
    if (pauseAsked) return;  // « Reprendre l’envoi » starts it
    say(same.length ? "Reprise d’un envoi précédent de ce fichier…" : "Envoi en cours…");
    upload.start();
  }

  // -- completing an upload the server kept -------------------------------------------

  const correction = $("correction");

  function openCorrection(id, reason, room, local, name) {
    correction.dataset.held = id;
    $("correction-raison").textContent = (name ? "«" + NBSP + name + NBSP + "»" + NBSP + ": " : "") + reason;
    if (room) $("correction-salle").value = room;
    $("correction-debut").value = local || "";
    correction.hidden = false;
    $("correction-debut").focus();
  }

  correction.addEventListener("submit", async (event) => {
    event.preventDefault();
    const line = $("correction-etat");
    if (!$("correction-debut").value) { line.textContent = "Indiquez l’heure de début."; $("correction-debut").focus(); return; }
    const body = { room: $("correction-salle").value, started_at: zonedIso($("correction-debut").value, $("fuseau").value) };
    let response;
    try {
      response = await fetch("/api/held-uploads/" + encodeURIComponent(correction.dataset.held), {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body) });
    } catch (error) {
      line.textContent = "Le serveur ne répond pas" + NBSP + ": réessayez dans un instant" + NBSP + "; le fichier reste gardé.";
      return;
    }
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    if (!response.ok) {
      $("correction-raison").textContent = data.error || "Admission refusée.";
      line.textContent = data.held ? "Le fichier reste gardé" + NBSP + ": corrigez, puis réessayez." : "";
      if (!data.held) correction.hidden = true;
      return;
    }
    correction.hidden = true;
    say("Enregistrement admis sans renvoi" + NBSP + ": son analyse va commencer.");
    $("suite").hidden = false;
  });

  if (correction.dataset.held) {
    const started = correction.dataset.started;
    openCorrection(correction.dataset.held, correction.dataset.reason, correction.dataset.room,
                   started ? wallTime(Date.parse(started), $("fuseau").value) : "", correction.dataset.name);
  }

  $("fichier").addEventListener("change", fileChosen);
  $("fuseau").addEventListener("change", () => { if ($("fichier").files[0] && $("lecture-fichier").textContent.startsWith("Heure lue")) fileChosen(); });
  form.addEventListener("submit", begin);
  pauseButton.addEventListener("click", pause);
  resumeButton.addEventListener("click", restart);
  window.addEventListener("offline", () => {
    if (upload) say("Connexion perdue" + NBSP + ": l’envoi reprendra tout seul au retour du réseau.");
  });
})();
