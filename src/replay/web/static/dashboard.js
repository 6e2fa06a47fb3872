// The event dashboard: polls GET /api/events/{slug}/sessions every 2 s and updates the
// sessions table in place; draws each recording's cut plan (GET /api/recordings/{id}/plan)
// as an SVG timeline with its speech map; moves boundaries, confirms plans, retries,
// publishes and unpublishes through the JSON API with the page's CSRF token.
"use strict";
(function () {
  const NBSP = "\u00a0";
  const POLL_MS = 2000;
  const root = document.getElementById("tableau");
  if (!root) return;
  const slug = root.dataset.event;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const statusLine = document.getElementById("etat");
  const updated = document.getElementById("maj");
  const planCuts = new Map(); // recording id -> number of cuts drawn
  const COLOURS = ["#00508f", "#8f3b00", "#1d6b2f", "#6b1d6b", "#7a5c00", "#00626b"];
  const SVG = "http://www.w3.org/2000/svg";

  // -- French formatting -------------------------------------------------------------

  function two(n) { return String(n).padStart(2, "0"); }

  function clock(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return h ? h + ":" + two(m) + ":" + two(s) : two(m) + ":" + two(s);
  }

  function remaining(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    if (h) return h + NBSP + "h" + NBSP + two(m) + NBSP + "min";
    if (m) return m + NBSP + "min" + NBSP + two(s) + NBSP + "s";
    return s + NBSP + "s";
  }

  function progressText(fraction, eta) {
    const text = Math.floor(100 * (fraction || 0)) + NBSP + "%";
    return eta == null ? text : text + " — reste " + remaining(eta);
  }

  function parseClock(text) {
    const value = text.trim().replace(",", ".");
    if (!/^\d+(\.\d+)?$|^\d+:\d{1,2}(\.\d+)?$|^\d+:\d{1,2}:\d{1,2}(\.\d+)?$/.test(value)) return null;
    return value.split(":").reduce((acc, part) => acc * 60 + parseFloat(part), 0);
  }

  const STATUS = {
    pending: ["en attente", "waiting"], queued: ["en attente", "waiting"],
    requested: ["en attente", "waiting"], todo: ["en attente", "waiting"],
    running: ["en cours", "running"], doing: ["en cours", "running"],
    done: ["terminé", "done"], succeeded: ["terminé", "done"],
    failed: ["échec", "failed"], cancelled: ["annulé", "failed"],
    unpublished: ["retirée", "done"],
  };
  const STAGE_NAMES = { analyse: "Analyse", media: "Vidéo", speech: "Sous-titres",
                        publish: "Publication" };

  // What to do, for the errors the pipeline reports (often technical, in English).
  const ADVICE = [
    [/lease|worker|killed|stopped/i, "le traitement a été interrompu (serveur redémarré ou arrêté). Cliquez sur «" + NBSP + "Réessayer" + NBSP + "»."],
    [/timed? ?out|timeout|délai/i, "l’étape a dépassé le temps maximal. Cliquez sur «" + NBSP + "Réessayer" + NBSP + "»" + NBSP + "; si cela se répète, augmentez le réglage job_timeout."],
    [/no space|disk|ENOSPC/i, "le disque du serveur est plein. Libérez de la place, puis cliquez sur «" + NBSP + "Réessayer" + NBSP + "»."],
    [/not media|no audio|invalid data|zero|duration|probe|ffprobe|moov|dimensions/i, "le fichier n’est pas exploitable. Renvoyez l’enregistrement complet depuis la page d’envoi."],
    [/no longer in the cut plan|does not exist/i, "la séance ou l’enregistrement a changé entre-temps. Vérifiez le découpage, puis réessayez."],
    [/model|whisper|cuda|memory/i, "la reconnaissance vocale n’a pas pu tourner (modèle ou mémoire). Cliquez sur «" + NBSP + "Réessayer" + NBSP + "»" + NBSP + "; si cela se répète, prévenez l’administrateur."],
  ];

  function explain(stage, error) {
    const name = STAGE_NAMES[stage] || stage;
    const raw = String(error || "").trim();
    if (/[àâçéèêëîïôûù’«]/.test(raw)) return name + NBSP + ": " + raw; // already French
    const found = ADVICE.find(([pattern]) => pattern.test(raw));
    const advice = found ? found[1] : "cliquez sur «" + NBSP + "Réessayer" + NBSP + "»" + NBSP + "; si l’échec se répète, transmettez le détail ci-après à l’administrateur.";
    return name + " en échec" + NBSP + ": " + advice + (raw ? " (Détail" + NBSP + ": " + raw + ")" : "");
  }

  // -- the API -----------------------------------------------------------------------

  async function api(method, url, body) {
    const headers = { "Accept": "application/json", "X-CSRF-Token": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data || {} };
  }

  function say(text) { statusLine.textContent = text; }

  // -- sessions ----------------------------------------------------------------------

  function updateStage(cell, stage, state) {
    const label = cell.querySelector(".stage-status");
    const bar = cell.querySelector("progress");
    const detail = cell.querySelector(".stage-detail");
    if (!state) {
      label.textContent = "pas d’enregistrement";
      cell.className = "stage";
      bar.hidden = true; detail.textContent = "";
      return;
    }
    let [text, kind] = STATUS[state.status] || [state.status, "waiting"];
    if (stage === "publish" && state.status === "pending") text = "non publiée";
    if (stage === "publish" && state.status === "done") text = "publiée";
    label.textContent = text;
    cell.className = "stage status-" + kind;
    const running = kind === "running";
    bar.hidden = !running;
    const value = progressText(state.progress, state.eta);
    bar.value = Math.floor(100 * (state.progress || 0));
    bar.setAttribute("aria-valuetext", value);
    bar.textContent = value;
    detail.textContent = running ? value : "";
  }

  function updateRow(row, session) {
    const stages = session.stages || {};
    const failed = [];
    row.querySelectorAll("td.stage").forEach((cell) => {
      const stage = cell.dataset.stage;
      const state = session.recording == null ? null : stages[stage];
      updateStage(cell, stage, state);
      if (state && (state.status === "failed" || state.status === "cancelled")) {
        failed.push(explain(stage, state.error));
      }
    });
    row.dataset.recording = session.recording == null ? "" : session.recording;
    const error = row.querySelector(".session-error");
    if (!row.dataset.actionError) {
      error.textContent = failed.join(" ");
      error.hidden = failed.length === 0;
    }
    const ready = ["media", "speech"].every((s) => stages[s] && stages[s].status === "done");
    button(row, "retry").hidden = failed.length === 0;
    button(row, "publish").hidden = !(ready && !session.published);
    button(row, "unpublish").hidden = !session.published;
    const edit = row.querySelector("a.edit-captions");
    const speechDone = stages.speech && stages.speech.status === "done";
    if (edit && session.recording != null) edit.href = "/edition/" + session.recording + "/" + encodeURIComponent(row.dataset.guid);
    if (edit) edit.hidden = !(speechDone && session.recording != null);
  }

  function button(row, action) { return row.querySelector('button[data-action="' + action + '"]'); }

  function rowFor(guid) {
    return Array.from(root.querySelectorAll("tr[data-guid]")).find((r) => r.dataset.guid === guid);
  }

  async function poll() {
    try {
      const { ok, status, data } = await api("GET", "/api/events/" + encodeURIComponent(slug) + "/sessions");
      if (status === 401) { say("Votre session a expiré" + NBSP + ": reconnectez-vous, puis rouvrez cette page."); return; }
      if (!ok) throw new Error(data.error || String(status));
      (data.sessions || []).forEach((session) => {
        const row = rowFor(session.guid);
        if (row && (session.recording != null || !row.dataset.recording)) updateRow(row, session);
      });
      refreshPlans(data);
      updated.textContent = "Dernière mise à jour" + NBSP + ": " + new Date().toLocaleTimeString("fr-FR") + ".";
      if (statusLine.dataset.offline) { delete statusLine.dataset.offline; say("Connexion au serveur rétablie."); }
    } catch (error) {
      statusLine.dataset.offline = "1";
      say("Connexion au serveur perdue" + NBSP + ": nouvel essai dans deux secondes. Vérifiez votre réseau si cela dure.");
    } finally {
      window.setTimeout(poll, POLL_MS);
    }
  }

  async function act(row, action) {
    const target = button(row, action);
    const title = row.querySelector(".session-title").textContent.trim();
    const url = "/api/sessions/" + row.dataset.recording + "/" + encodeURIComponent(row.dataset.guid) + "/" + action;
    target.disabled = true;
    try {
      const { ok, data } = await api("POST", url);
      const error = row.querySelector(".session-error");
      if (!ok) {
        row.dataset.actionError = "1";
        error.textContent = data.error || "La demande a échoué" + NBSP + ": réessayez dans un instant.";
        error.hidden = false;
        return;
      }
      delete row.dataset.actionError;
      const done = { retry: "Relance demandée pour", publish: "Publication demandée pour", unpublish: "Séance retirée" + NBSP + ":" };
      say(done[action] + " «" + NBSP + title + NBSP + "».");
    } catch (e) {
      say("Le serveur ne répond pas" + NBSP + ": vérifiez votre connexion, puis recommencez.");
    } finally {
      target.disabled = false;
    }
  }

  root.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-action]");
    if (target) act(target.closest("tr"), target.dataset.action);
  });

  // -- cut plans ---------------------------------------------------------------------

  function refreshPlans(data) {
    const counts = new Map();
    (data.sessions || []).forEach((s) => {
      if (s.recording != null) counts.set(s.recording, (counts.get(s.recording) || 0) + 1);
    });
    (data.recordings || []).forEach((r) => {
      if (!planArticle(r.id)) addPlanArticle(r);
      const count = counts.get(r.id) || 0;
      if (count !== planCuts.get(r.id) && count > 0) {
        planCuts.set(r.id, count);
        loadPlan(r.id);
      }
    });
  }

  function planArticle(id) {
    return root.querySelector('article.plan[data-recording="' + id + '"]');
  }

  function addPlanArticle(recording) {
    const section = document.getElementById("titre-decoupage").parentElement;
    const article = el("article", { "class": "plan", "data-recording": recording.id });
    const heading = el("h3", {}, recording.source_name + " — " + recording.room);
    const body = el("div", { "class": "plan-body" });
    body.append(el("p", {}, "Nouvel enregistrement reçu" + NBSP + ": le plan de découpe apparaîtra après son analyse."));
    article.append(heading, body);
    section.append(article);
    planCuts.set(recording.id, 0);
  }

  function el(name, attributes, text) {
    const node = document.createElement(name);
    Object.entries(attributes || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    Object.entries(attributes || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function loadPlan(id) {
    const article = planArticle(id);
    if (!article) return;
    const body = article.querySelector(".plan-body");
    const { ok, data } = await api("GET", "/api/recordings/" + id + "/plan");
    if (!ok || !data.cuts || data.cuts.length === 0 || !data.duration) {
      body.replaceChildren(el("p", {}, ok ? "Le plan de découpe sera disponible après l’analyse de l’enregistrement." : (data.error || "Plan indisponible pour l’instant.")));
      return;
    }
    planCuts.set(id, data.cuts.length);
    drawPlan(article, data);
  }

  function drawPlan(article, plan) {
    const body = article.querySelector(".plan-body");
    const state = el("p", { "class": "plan-state" }, plan.confirmed ? "Découpage validé." : "Découpage à vérifier, puis à valider.");
    const confirm = el("button", { type: "button", "class": "confirm-plan" }, "Valider le découpage");
    confirm.addEventListener("click", () => confirmPlan(article, plan.recording));
    const message = el("p", { "class": "plan-message", role: "status" });
    body.replaceChildren(timeline(plan), legend(plan), boundaries(article, plan), state, confirm, message);
  }

  function timeline(plan) {
    const width = 1000, height = 96, scale = width / plan.duration;
    const titleId = "plan-titre-" + plan.recording;
    const root = svg("svg", { "class": "timeline", viewBox: "0 0 " + width + " " + height,
      role: "img", "aria-labelledby": titleId, preserveAspectRatio: "none" });
    root.append(svg("title", { id: titleId }, "Plan de découpe" + NBSP + ": " + plan.cuts.length +
      " séances sur " + clock(plan.duration) + ", parole détectée en gris"));
    axis(root, plan.duration, scale);
    (plan.speech || []).forEach((interval) => {
      const [a, b] = Array.isArray(interval) ? interval : [interval.start, interval.end];
      root.append(svg("rect", { "class": "speech", x: a * scale, y: 70, width: Math.max(0.5, (b - a) * scale), height: 14 }));
    });
    plan.cuts.forEach((cut, i) => {
      const x = cut.start * scale, w = Math.max(1, (cut.end - cut.start) * scale);
      const band = svg("g", { "class": "cut", "data-guid": cut.guid });
      band.append(svg("rect", { x, y: 22, width: w, height: 40, fill: COLOURS[i % COLOURS.length] }));
      band.append(svg("title", {}, cut.title + " (" + clock(cut.start) + " – " + clock(cut.end) + ")"));
      const chars = Math.floor((w - 8) / 7);
      if (chars >= 3) {
        const label = cut.title.length > chars ? cut.title.slice(0, chars - 1) + "…" : cut.title;
        band.append(svg("text", { "class": "cut-label", x: x + 4, y: 46 }, label));
      }
      root.append(band);
      [cut.scheduled_start, cut.scheduled_end].forEach((t) => {
        if (t >= 0 && t <= plan.duration) root.append(svg("line", { "class": "scheduled", x1: t * scale, x2: t * scale, y1: 16, y2: 90 }));
      });
    });
    return root;
  }

  function axis(root, duration, scale) {
    const steps = [60, 300, 600, 900, 1800, 3600, 7200];
    const step = steps.find((s) => duration / s <= 10) || 7200;
    const group = svg("g", { "class": "axis", "aria-hidden": "true" });
    for (let t = 0; t <= duration; t += step) {
      group.append(svg("line", { x1: t * scale, x2: t * scale, y1: 0, y2: 18 }));
      group.append(svg("text", { x: t * scale + 2, y: 12 }, clock(t)));
    }
    root.append(group);
  }

  function legend(plan) {
    const list = el("ul", { "class": "legend" });
    plan.cuts.forEach((cut, i) => {
      const item = el("li");
      item.append(el("span", { "class": "swatch colour-" + (i % COLOURS.length) })); // no style=: the CSP
      item.append(document.createTextNode(cut.title + NBSP + ": " + clock(cut.start) + " – " + clock(cut.end)));
      list.append(item);
    });
    return list;
  }

  function boundaries(article, plan) {
    const table = el("table", { "class": "boundaries" });
    table.append(el("caption", {}, "Limites des séances (depuis le début de l’enregistrement)"));
    const head = el("tr");
    ["Séance", "Début", "Fin", "Action"].forEach((t) => head.append(el("th", { scope: "col" }, t)));
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const tbody = table.appendChild(el("tbody"));
    plan.cuts.forEach((cut, i) => tbody.append(boundaryRow(article, plan, cut, i)));
    return table;
  }

  function boundaryRow(article, plan, cut, i) {
    const row = el("tr", { "data-guid": cut.guid });
    row.append(el("th", { scope: "row" }, cut.title));
    const inputs = ["start", "end"].map((side) => {
      const id = "limite-" + plan.recording + "-" + i + "-" + side;
      const cell = el("td");
      const label = el("label", { "for": id }, (side === "start" ? "Début" : "Fin") + " (min:s)");
      const input = el("input", { id, type: "text", inputmode: "numeric", value: clock(cut[side]),
        pattern: "[0-9]+(:[0-9]{1,2}){0,2}", "data-side": side, "data-initial": clock(cut[side]) });
      cell.append(label, input);
      row.append(cell);
      return input;
    });
    const cell = el("td");
    const move = el("button", { type: "button" }, "Déplacer");
    const message = el("p", { "class": "plan-error", role: "alert", hidden: "" });
    move.addEventListener("click", () => moveBoundary(article, plan.recording, cut.guid, inputs, message));
    cell.append(move, message);
    row.append(cell);
    return row;
  }

  async function moveBoundary(article, recording, guid, inputs, message) {
    const body = {};
    for (const input of inputs) {
      if (input.value.trim() === input.dataset.initial) continue;
      const seconds = parseClock(input.value);
      if (seconds === null) {
        message.textContent = "Valeur «" + NBSP + input.value + NBSP + "» non comprise" + NBSP + ": écrivez par exemple 12:30 ou 1:02:05.";
        message.hidden = false;
        input.focus();
        return;
      }
      body[input.dataset.side] = seconds;
    }
    if (Object.keys(body).length === 0) {
      message.textContent = "Rien à déplacer" + NBSP + ": modifiez le début ou la fin, puis «" + NBSP + "Déplacer" + NBSP + "».";
      message.hidden = false;
      return;
    }
    const { ok, data } = await api("PATCH", "/api/recordings/" + recording + "/plan/" + encodeURIComponent(guid), body);
    if (!ok) {
      message.textContent = data.error || "Déplacement refusé" + NBSP + ": réessayez.";
      message.hidden = false;
      return;
    }
    planCuts.set(recording, data.cuts.length);
    drawPlan(article, data);
    article.querySelector(".plan-message").textContent = "Limite déplacée" + NBSP + ": seule cette séance va être retraitée.";
  }

  async function confirmPlan(article, recording) {
    const { ok, data } = await api("POST", "/api/recordings/" + recording + "/plan/confirm");
    if (!ok) {
      article.querySelector(".plan-message").textContent = data.error || "Validation impossible pour l’instant" + NBSP + ": réessayez.";
      return;
    }
    drawPlan(article, data);
    article.querySelector(".plan-message").textContent = "Découpage validé.";
  }

  root.querySelectorAll("article.plan").forEach((a) => loadPlan(Number(a.dataset.recording)));
  poll();
})();
