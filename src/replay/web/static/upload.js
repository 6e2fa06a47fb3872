// The upload page: a resumable tus upload (tus-js-client) to /api/uploads/ with the event,
// the room and the recording's start as metadata. It resumes an earlier upload of the same
// file (tus fingerprint in localStorage), retries on network errors, waits for the network
// to come back when the browser goes offline, and shows progress, speed and time left.
// The file's SHA-256 is computed in the browser only for files up to 64 MB (reading a
// multi-gigabyte recording into memory is not worth it: the server hashes every upload
// as it arrives anyway).
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

  function serverMessage(error) {
    const response = error.originalResponse;
    if (!response) return null;
    const body = response.getBody() || "";
    try {
      const data = JSON.parse(body);
      if (data && typeof data.error === "string") return data.error;
    } catch (e) { /* tus answers in plain text */ }
    if (body.trim()) return body.trim();
    return "Le serveur a refusé l’envoi (erreur " + response.getStatus() + ")" + NBSP + ": réessayez, ou prévenez l’administrateur.";
  }

  function onError(error) {
    const refused = serverMessage(error);
    if (refused && error.originalResponse.getStatus() < 500) {
      showError(refused);
      say("Envoi interrompu.");
      buttons("idle");
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
    if (!upload) return;
    showError("");
    samples = [];
    buttons("sending");
    upload.start();
  }

  // -- starting ---------------------------------------------------------------------------

  async function metadata(file) {
    const data = { filename: file.name, filetype: file.type || "application/octet-stream",
                   event: form.dataset.event, room: $("salle").value };
    const local = $("debut").value;
    if (local) data.started_at = zonedIso(local, $("fuseau").value);
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
    if (typeof tus === "undefined") {
      showError("La bibliothèque d’envoi manque sur le serveur (scripts/setup.sh)" + NBSP + ": prévenez l’administrateur.");
      return;
    }
    if (!tus.isSupported) {
      showError("Ce navigateur ne permet pas l’envoi reprenable" + NBSP + ": utilisez une version récente de Firefox, Chrome, Edge ou Safari.");
      return;
    }
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
      say("Reprise d’un envoi précédent de ce fichier…");
    } else {
      say("Envoi en cours…");
    }
    samples = [];
    upload.start();
  }

  form.addEventListener("submit", begin);
  pauseButton.addEventListener("click", () => {
    if (!upload) return;
    upload.abort();
    buttons("stopped");
    say("Envoi en pause" + NBSP + ": cliquez sur «" + NBSP + "Reprendre l’envoi" + NBSP + "» pour continuer.");
  });
  resumeButton.addEventListener("click", restart);
  window.addEventListener("offline", () => {
    if (upload) say("Connexion perdue" + NBSP + ": l’envoi reprendra tout seul au retour du réseau.");
  });
})();
