// The event dashboard: polls GET /api/events/{slug}/sessions every 2 s and updates the
// sessions table in place (a session outside the programme gets a row of its own); draws
// each recording's cut plan (GET /api/recordings/{id}/plan) as an SVG timeline with its
// speech map; lets the organiser hear and see around a boundary (a waveform zoom and an
// audio clip), drag it, and confirms implausible moves; confirms plans, retries,
// publishes and unpublishes; saves the event's publication rule; re-imports the
// programme with a preview; deletes a wrong recording after a confirmation.
// A network failure and a script error are told apart: the first says the connection is
// lost, the second is logged and says the page itself failed.
"use strict";
(function () {
  const NBSP = "\u00a0";
  const POLL_MS = 2000;
  const root = document.getElementById("tableau");
  if (!root) return;
  const slug = root.dataset.event;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const statusLine = document.getElementById("etat");
  const pageError = document.getElementById("erreur-page");
  const updated = document.getElementById("maj");
  const sessionRows = document.getElementById("lignes-seances");
  const planCuts = new Map(); // recording id -> number of cuts drawn
  const COLOURS = 6;
  const SVG = "http://www.w3.org/2000/svg";
  const NUDGE = 0.5;

  class NetworkError extends Error {}

  // -- French formatting -------------------------------------------------------------

  function two(n) { return String(n).padStart(2, "0"); }

  function clock(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return h ? h + ":" + two(m) + ":" + two(s) : two(m) + ":" + two(s);
  }

  function preciseClock(seconds) {  // 12:30,5: the tenths a drag gives
    const tenths = Math.round(Math.max(0, seconds) * 10);
    const whole = clock(Math.floor(tenths / 10));
    return tenths % 10 ? whole + "," + (tenths % 10) : whole;
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
    requested: ["publication demandée", "waiting"], todo: ["en attente", "waiting"],
    running: ["en cours", "running"], doing: ["en cours", "running"],
    done: ["terminé", "done"], succeeded: ["terminé", "done"],
    failed: ["échec", "failed"], cancelled: ["annulé", "failed"],
    unpublished: ["retirée", "done"],
  };
  const STAGE_NAMES = { analyse: "Analyse", media: "Vidéo", speech: "Sous-titres",
                        publish: "Publication" };
  const CAPTION_STATUS = { brouillon_automatique: "brouillon automatique", en_relecture: "en relecture",
                           valide: "validés", publie: "publiés" };

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

  // Resolves with the answer, whatever its status; rejects with NetworkError only when
  // the server could not be reached.
  async function api(method, url, body) {
    const headers = { "Accept": "application/json", "X-CSRF-Token": csrf };
    const init = { method, headers, credentials: "same-origin" };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    let response;
    try { response = await fetch(url, init); } catch (error) { throw new NetworkError(String(error)); }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data || {} };
  }

  function say(text) { statusLine.textContent = text; }

  function scriptFailed(error) {
    console.error("dashboard:", error);
    pageError.textContent = "Cette page a rencontré une erreur d’affichage" + NBSP + ": rechargez-la. Vos données ne sont pas en cause" + NBSP + "; si l’erreur se répète, prévenez l’administrateur.";
    pageError.hidden = false;
  }

  function networkLost() {
    statusLine.dataset.offline = "1";
    say("Connexion au serveur perdue" + NBSP + ": nouvel essai dans deux secondes. Vérifiez votre réseau si cela dure.");
  }

  // Runs an action of the page: network loss and script errors each get their message.
  async function guarded(action) {
    try {
      return await action();
    } catch (error) {
      if (error instanceof NetworkError) say("Le serveur ne répond pas" + NBSP + ": vérifiez votre connexion, puis recommencez.");
      else scriptFailed(error);
      return undefined;
    }
  }

  // -- DOM helpers -------------------------------------------------------------------

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

  function hidden(label) { return el("span", { "class": "visually-hidden" }, label); }

  // -- confirmation dialog -----------------------------------------------------------

  function confirmDialog(title, text, yes) {
    const dialog = document.getElementById("confirmation");
    document.getElementById("confirmation-titre").textContent = title;
    document.getElementById("confirmation-texte").textContent = text;
    const ok = document.getElementById("confirmation-oui");
    const no = document.getElementById("confirmation-non");
    ok.textContent = yes;
    return new Promise((resolve) => {
      function close(answer) {
        ok.removeEventListener("click", onYes);
        no.removeEventListener("click", onNo);
        dialog.removeEventListener("cancel", onNo);
        dialog.close();
        resolve(answer);
      }
      function onYes() { close(true); }
      function onNo(event) { if (event) event.preventDefault(); close(false); }
      ok.addEventListener("click", onYes);
      no.addEventListener("click", onNo);
      dialog.addEventListener("cancel", onNo);
      dialog.showModal();
      no.focus();
    });
  }

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

  function captionsDetail(session) {
    const names = { fr: "français", en: "anglais" };
    return Object.entries(session.captions || {}).map(([lang, track]) =>
      names[lang] + NBSP + ": " + (CAPTION_STATUS[track.status] || track.status)).join(", ");
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
    const speechCell = row.querySelector('td[data-stage="speech"] .stage-detail');
    if (speechCell && !speechCell.textContent && session.captions) speechCell.textContent = captionsDetail(session);
    row.dataset.recording = session.recording == null ? "" : session.recording;
    const error = row.querySelector(".session-error");
    if (!row.dataset.actionError) {
      error.textContent = failed.join(" ");
      error.hidden = failed.length === 0;
    }
    const publication = session.publication;
    const reason = row.querySelector(".publication-reason");
    const held = publication && !publication.publish && !session.published;
    const ready = ["media", "speech"].every((s) => stages[s] && stages[s].status === "done");
    reason.textContent = held && ready ? publication.reason : "";
    reason.hidden = !(held && ready);
    button(row, "retry").hidden = failed.length === 0;
    const publish = button(row, "publish");
    publish.hidden = !(ready && held);
    publish.firstChild.textContent = publication && publication.held_by_rule ? "Publier maintenant" : "Publier";
    button(row, "unpublish").hidden = !session.published;
    const edit = row.querySelector("a.edit-captions");
    const speechDone = stages.speech && stages.speech.status === "done";
    if (session.recording != null) edit.href = "/edition/" + session.recording + "/" + encodeURIComponent(row.dataset.guid);
    edit.hidden = !(speechDone && session.recording != null);
  }

  function button(row, action) { return row.querySelector('button[data-action="' + action + '"]'); }

  function rowFor(guid) {
    return Array.from(sessionRows.children).find((r) => r.dataset.guid === guid);
  }

  // A row for a session the page was not rendered with: a clip outside the programme.
  function addRow(session) {
    const row = el("tr", { "data-guid": session.guid });
    const title = el("th", { scope: "row", "class": "session-title" }, session.title);
    if (!session.in_programme) title.append(el("span", { "class": "tag" }, " hors programme"));
    row.append(title, el("td", { "data-label": "Salle" }, session.room || ""));
    row.append(el("td", { "data-label": "Horaire" }, session.cut ? clock(session.cut.start) + "–" + clock(session.cut.end) + " dans l’enregistrement" : ""));
    [["analyse", "Analyse"], ["media", "Vidéo"], ["speech", "Sous-titres"], ["publish", "Publication"]].forEach(([stage, label]) => {
      const cell = el("td", { "class": "stage", "data-stage": stage, "data-label": label });
      cell.append(el("span", { "class": "stage-status" }, "chargement…"),
        el("progress", { max: "100", value: "0", hidden: "", "aria-label": label + NBSP + ": " + session.title }),
        el("span", { "class": "stage-detail" }));
      row.append(cell);
    });
    const actions = el("td", { "class": "actions", "data-label": "Actions" });
    actions.append(el("p", { "class": "session-error", role: "alert", hidden: "" }),
      el("p", { "class": "publication-reason", hidden: "" }));
    [["retry", "Réessayer"], ["publish", "Publier"]].forEach(([action, text]) => {
      const b = el("button", { type: "button", "data-action": action, hidden: "" }, text);
      b.append(hidden(" «" + NBSP + session.title + NBSP + "»"));
      actions.append(b);
    });
    const edit = el("a", { "class": "edit-captions", href: "/edition/", hidden: "" }, "Corriger les sous-titres");
    edit.append(hidden(" de «" + NBSP + session.title + NBSP + "»"));
    const unpublish = el("button", { type: "button", "data-action": "unpublish", hidden: "" }, "Retirer");
    unpublish.append(hidden(" «" + NBSP + session.title + NBSP + "»"));
    actions.append(edit, unpublish);
    row.append(actions);
    sessionRows.append(row);
    const empty = document.getElementById("aucune-seance");
    if (empty) empty.hidden = true;
    return row;
  }

  function render(data) {
    (data.sessions || []).forEach((session) => {
      let row = rowFor(session.guid);
      if (!row && session.recording != null) row = addRow(session);
      if (row && (session.recording != null || !row.dataset.recording)) updateRow(row, session);
    });
    refreshPlans(data);
    updated.textContent = "Dernière mise à jour" + NBSP + ": " + new Date().toLocaleTimeString("fr-FR") + ".";
  }

  async function poll() {
    try {
      let answer;
      try {
        answer = await api("GET", "/api/events/" + encodeURIComponent(slug) + "/sessions");
      } catch (error) {
        if (error instanceof NetworkError) { networkLost(); return; }
        throw error;
      }
      const { ok, status, data } = answer;
      if (status === 401) { say("Votre session a expiré" + NBSP + ": reconnectez-vous, puis rouvrez cette page."); return; }
      if (!ok) { say(data.error || "Le serveur n’a pas pu donner l’état des séances (erreur " + status + ")" + NBSP + ": nouvel essai dans deux secondes."); return; }
      if (statusLine.dataset.offline) { delete statusLine.dataset.offline; say("Connexion au serveur rétablie."); }
      render(data);
    } catch (error) {
      scriptFailed(error);
    } finally {
      window.setTimeout(poll, POLL_MS);
    }
  }

  async function act(row, action) {
    const target = button(row, action);
    const title = row.querySelector(".session-title").firstChild.textContent.trim();
    if (action === "unpublish" && !(await confirmDialog("Retirer la séance", "Retirer «" + NBSP + title + NBSP + "» du site public" + NBSP + "? Elle pourra être republiée ensuite.", "Retirer"))) return;
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
      const done = { retry: "Relance demandée pour", publish: "Publication demandée pour", unpublish: "Retrait demandé pour" };
      say(done[action] + " «" + NBSP + title + NBSP + "».");
    } finally {
      target.disabled = false;
    }
  }

  root.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-action]");
    if (target) guarded(() => act(target.closest("tr"), target.dataset.action));
    const remove = event.target.closest("button[data-delete-recording]");
    if (remove) guarded(() => deleteRecording(remove));
  });

  // -- the publication rule ----------------------------------------------------------

  document.getElementById("regle").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const chosen = event.target.querySelector('input[name="publication_rule"]:checked').value;
      const line = document.getElementById("regle-etat");
      const { ok, data } = await api("PUT", "/api/events/" + encodeURIComponent(slug) + "/options", { publication_rule: chosen });
      line.textContent = ok ? "Règle enregistrée" + NBSP + ": «" + NBSP + data.publication_rule_label + NBSP + "»." : (data.error || "Règle non enregistrée" + NBSP + ": réessayez.");
    });
  });

  // -- deleting a wrong recording ----------------------------------------------------

  async function deleteRecording(target) {
    const id = target.dataset.deleteRecording, name = target.dataset.name;
    const question = "Supprimer l’enregistrement «" + NBSP + name + NBSP + "»" + NBSP + "? Les séances découpées dedans seront retirées du site public, et son découpage et ses sous-titres oubliés. Les autres enregistrements et séances ne changent pas.";
    if (!(await confirmDialog("Supprimer l’enregistrement", question, "Supprimer"))) return;
    target.disabled = true;
    const { ok, data } = await api("DELETE", "/api/recordings/" + id);
    target.disabled = false;
    if (!ok) { say(data.error || "Suppression impossible" + NBSP + ": réessayez."); return; }
    const row = target.closest("tr");
    if (row) row.remove();
    const article = planArticle(id);
    if (article) article.remove();
    (data.sessions || []).forEach((guid) => {
      const session = rowFor(guid);
      if (!session) return;
      if (session.querySelector(".tag")) session.remove();
      else { session.dataset.recording = ""; updateRow(session, { guid, recording: null, stages: {}, published: false }); }
    });
    const withdrawn = (data.withdrawn || []).length;
    say("Enregistrement «" + NBSP + name + NBSP + "» supprimé" + (withdrawn ? NBSP + "; " + withdrawn + " séance" + (withdrawn > 1 ? "s retirées" : " retirée") + " du site." : "."));
  }

  // -- the programme -----------------------------------------------------------------

  let programmeBody = null;

  function programmeRequest() {
    const file = document.getElementById("programme-fichier").files[0];
    const url = document.getElementById("programme-adresse").value.trim();
    if (file) return () => { const form = new FormData(); form.append("programme", file, file.name); return form; };
    if (url) return () => ({ url });
    return null;
  }

  document.getElementById("programme").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const line = document.getElementById("programme-etat");
      const list = document.getElementById("programme-changements");
      programmeBody = programmeRequest();
      if (!programmeBody) { line.textContent = "Choisissez le fichier du programme, ou donnez son adresse."; return; }
      line.textContent = "Lecture du programme…";
      const { ok, data } = await api("POST", "/api/events/" + encodeURIComponent(slug) + "/programme?preview=true", programmeBody());
      if (!ok) { line.textContent = data.error || "Programme refusé."; list.replaceChildren(); return; }
      const titles = data.titles || {};
      const items = [];
      [["added", "Ajoutée"], ["changed", "Modifiée"], ["removed", "Supprimée"]].forEach(([kind, label]) =>
        (data[kind] || []).forEach((guid) => items.push(el("li", { "class": "change " + kind }, label + NBSP + ": " + (titles[guid] || guid)))));
      list.replaceChildren(...items);
      line.textContent = items.length ? items.length + NBSP + "changement" + (items.length > 1 ? "s" : "") + NBSP + ": vérifiez-les, puis appliquez." : "Aucun changement" + NBSP + ": le programme est déjà à jour.";
      document.getElementById("programme-appliquer").hidden = items.length === 0;
    });
  });

  document.getElementById("programme-appliquer").addEventListener("click", () => guarded(async () => {
    const line = document.getElementById("programme-etat");
    if (!programmeBody) return;
    const { ok, data } = await api("POST", "/api/events/" + encodeURIComponent(slug) + "/programme?preview=false", programmeBody());
    if (!ok) { line.textContent = data.error || "Programme refusé."; return; }
    line.textContent = "Programme mis à jour" + NBSP + ": rechargement de la page…";
    window.location.reload();
  }));

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
    const article = el("article", { "class": "plan", "data-recording": recording.id, "aria-labelledby": "plan-" + recording.id });
    const heading = el("h3", { id: "plan-" + recording.id }, recording.source_name + " — " + recording.room);
    const body = el("div", { "class": "plan-body" });
    body.append(el("p", {}, "Nouvel enregistrement reçu" + NBSP + ": le plan de découpe apparaîtra après son analyse."));
    article.append(heading, body);
    document.getElementById("plans").append(article);
    const empty = document.getElementById("aucun-plan");
    if (empty) empty.hidden = true;
    planCuts.set(recording.id, 0);
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
    confirm.addEventListener("click", () => guarded(() => confirmPlan(article, plan.recording)));
    const message = el("p", { "class": "plan-message", role: "status" });
    body.replaceChildren(timeline(plan), legend(plan), boundaries(article, plan), state, confirm, message);
  }

  function timeline(plan) {
    const width = 1000, height = 96, scale = width / plan.duration;
    const titleId = "plan-titre-" + plan.recording;
    const graphic = svg("svg", { "class": "timeline", viewBox: "0 0 " + width + " " + height,
      role: "img", "aria-labelledby": titleId, preserveAspectRatio: "none" });
    graphic.append(svg("title", { id: titleId }, "Plan de découpe" + NBSP + ": " + plan.cuts.length +
      " séances sur " + clock(plan.duration) + ", parole détectée en gris"));
    axis(graphic, plan.duration, scale);
    (plan.speech || []).forEach((interval) => {
      const [a, b] = Array.isArray(interval) ? interval : [interval.start, interval.end];
      graphic.append(svg("rect", { "class": "speech", x: a * scale, y: 70, width: Math.max(0.5, (b - a) * scale), height: 14 }));
    });
    plan.cuts.forEach((cut, i) => {
      const x = cut.start * scale, w = Math.max(1, (cut.end - cut.start) * scale);
      const band = svg("g", { "class": "cut colour-" + (i % COLOURS), "data-guid": cut.guid });
      band.append(svg("rect", { x, y: 22, width: w, height: 40 }));
      band.append(svg("title", {}, cut.title + " (" + clock(cut.start) + " – " + clock(cut.end) + ")"));
      const chars = Math.floor((w - 8) / 7);
      if (chars >= 3) {
        const label = cut.title.length > chars ? cut.title.slice(0, chars - 1) + "…" : cut.title;
        band.append(svg("text", { "class": "cut-label", x: x + 4, y: 46 }, label));
      }
      graphic.append(band);
      [cut.scheduled_start, cut.scheduled_end].forEach((t) => {
        if (t >= 0 && t <= plan.duration) graphic.append(svg("line", { "class": "scheduled", x1: t * scale, x2: t * scale, y1: 16, y2: 90 }));
      });
    });
    return graphic;
  }

  function axis(graphic, duration, scale) {
    const steps = [60, 300, 600, 900, 1800, 3600, 7200];
    const step = steps.find((s) => duration / s <= 10) || 7200;
    const group = svg("g", { "class": "axis", "aria-hidden": "true" });
    for (let t = 0; t <= duration; t += step) {
      group.append(svg("line", { x1: t * scale, x2: t * scale, y1: 0, y2: 18 }));
      group.append(svg("text", { x: t * scale + 2, y: 12 }, clock(t)));
    }
    graphic.append(group);
  }

  function legend(plan) {
    const list = el("ul", { "class": "legend" });
    plan.cuts.forEach((cut, i) => {
      const item = el("li");
      item.append(el("span", { "class": "swatch colour-" + (i % COLOURS) }));
      item.append(document.createTextNode(cut.title + NBSP + ": " + clock(cut.start) + " – " + clock(cut.end)));
      list.append(item);
    });
    return list;
  }

  function boundaries(article, plan) {
    const table = el("table", { "class": "boundaries responsive" });
    table.append(el("caption", {}, "Limites des séances (depuis le début de l’enregistrement)"));
    const head = el("tr");
    ["Séance", "Début", "Fin", "Action"].forEach((t) => head.append(el("th", { scope: "col" }, t)));
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const tbody = table.appendChild(el("tbody"));
    plan.cuts.forEach((cut, i) => tbody.append(...boundaryRows(article, plan, cut, i)));
    return table;
  }

  function boundaryRows(article, plan, cut, i) {
    const row = el("tr", { "data-guid": cut.guid });
    row.append(el("th", { scope: "row" }, cut.title));
    const zoomRow = el("tr", { "class": "zoom-row", hidden: "" });
    const zoomCell = el("td", { colspan: "4" });
    zoomRow.append(zoomCell);
    const inputs = ["start", "end"].map((side) => {
      const id = "limite-" + plan.recording + "-" + i + "-" + side;
      const name = side === "start" ? "Début" : "Fin";
      const cell = el("td", { "data-label": name });
      const label = el("label", { "for": id }, name + " (min:s)");
      const input = el("input", { id, type: "text", inputmode: "decimal", value: preciseClock(cut[side]),
        "data-side": side, "data-initial": preciseClock(cut[side]) });
      const look = el("button", { type: "button", "class": "secondary look" }, "Écouter et voir");
      look.append(hidden(" autour " + (side === "start" ? "du début" : "de la fin") + " de «" + NBSP + cut.title + NBSP + "»"));
      look.addEventListener("click", () => guarded(() => openZoom(plan.recording, cut, input, zoomRow, zoomCell)));
      cell.append(label, input, look);
      row.append(cell);
      return input;
    });
    const cell = el("td", { "data-label": "Action" });
    const move = el("button", { type: "button" }, "Déplacer");
    const message = el("p", { "class": "plan-error", role: "alert", hidden: "" });
    move.addEventListener("click", () => guarded(() => moveBoundary(article, plan.recording, cut, inputs, message)));
    cell.append(move, message);
    row.append(cell);
    return [row, zoomRow];
  }

  // -- hearing and seeing around a boundary -----------------------------------------

  async function openZoom(recording, cut, input, zoomRow, cell) {
    const at = parseClock(input.value);
    const side = input.dataset.side === "start" ? "début" : "fin";
    const target = at === null ? cut[input.dataset.side] : at;
    cell.replaceChildren(el("p", {}, "Chargement de la forme d’onde…"));
    zoomRow.hidden = false;
    const { ok, data } = await api("GET", "/api/recordings/" + recording + "/waveform?at=" + target.toFixed(3));
    if (!ok) { cell.replaceChildren(el("p", { "class": "plan-error" }, data.error || "Forme d’onde indisponible.")); return; }
    const heading = el("p", { "class": "zoom-title" }, "Autour de la " + side + " de «" + NBSP + cut.title + NBSP + "»" + NBSP + ": " + clock(data.start) + " à " + clock(data.end) + ". Faites glisser le repère orange, ou utilisez les flèches du clavier.");
    const audio = el("audio", { controls: "", preload: "auto",
      src: "/api/recordings/" + recording + "/audio?start=" + data.start + "&end=" + data.end,
      "aria-label": "Extrait audio autour de la " + side + " de " + cut.title });
    const play = el("button", { type: "button", "class": "secondary" }, "Écouter à partir du repère moins 3" + NBSP + "s");
    play.addEventListener("click", () => {
      const value = parseClock(input.value);
      audio.currentTime = Math.max(0, (value === null ? target : value) - 3 - data.start);
      audio.play().catch(() => {});
    });
    const close = el("button", { type: "button", "class": "secondary" }, "Fermer");
    close.addEventListener("click", () => { audio.pause(); zoomRow.hidden = true; cell.replaceChildren(); });
    const controls = el("p", { "class": "buttons" });
    controls.append(play, close);
    cell.replaceChildren(heading, waveform(data, input, target, side, cut.title), audio, controls);
  }

  function waveform(data, input, initial, side, title) {
    const width = 800, height = 120, span = data.end - data.start, mid = 60;
    const graphic = svg("svg", { "class": "waveform", viewBox: "0 0 " + width + " " + height, preserveAspectRatio: "none" });
    const x = (t) => ((t - data.start) / span) * width;
    (data.speech || []).forEach(([a, b]) => graphic.append(svg("rect", { "class": "zoom-speech", x: x(a), y: 0, width: Math.max(1, x(b) - x(a)), height })));
    const step = width / Math.max(1, data.peaks.length);
    const d = data.peaks.map(([low, high], i) => "M" + (i * step).toFixed(1) + " " + (mid - high * 55).toFixed(1) + "V" + (mid - low * 55 + 0.5).toFixed(1)).join("");
    graphic.append(svg("path", { "class": "peaks", d }));
    const handle = svg("g", { "class": "handle", tabindex: "0", role: "slider",
      "aria-label": "Position de la " + side + " de " + title, "aria-valuemin": String(Math.round(data.start)),
      "aria-valuemax": String(Math.round(data.end)) });
    const line = svg("line", { y1: 0, y2: height });
    const grip = svg("rect", { y: 0, width: 12, height: 16 });
    handle.append(line, grip);
    graphic.append(handle);
    function place(t) {
      const value = Math.min(data.end, Math.max(data.start, t));
      line.setAttribute("x1", x(value)); line.setAttribute("x2", x(value));
      grip.setAttribute("x", x(value) - 6);
      handle.setAttribute("aria-valuenow", String(Math.round(value)));
      handle.setAttribute("aria-valuetext", preciseClock(value));
      return value;
    }
    function set(t) { input.value = preciseClock(place(t)); }
    place(initial);
    let dragging = false;
    function fromPointer(event) {
      const box = graphic.getBoundingClientRect();
      return data.start + ((event.clientX - box.left) / box.width) * span;
    }
    graphic.addEventListener("pointerdown", (event) => { dragging = true; graphic.setPointerCapture(event.pointerId); set(fromPointer(event)); });
    graphic.addEventListener("pointermove", (event) => { if (dragging) set(fromPointer(event)); });
    graphic.addEventListener("pointerup", () => { dragging = false; });
    handle.addEventListener("keydown", (event) => {
      const value = parseClock(input.value);
      const now = value === null ? initial : value;
      const step = event.shiftKey ? 5 : NUDGE;
      if (event.key === "ArrowLeft") { set(now - step); event.preventDefault(); }
      if (event.key === "ArrowRight") { set(now + step); event.preventDefault(); }
    });
    return graphic;
  }

  async function moveBoundary(article, recording, cut, inputs, message) {
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
    const start = body.start === undefined ? cut.start : body.start, end = body.end === undefined ? cut.end : body.end;
    if (end <= start) {
      message.textContent = "La séance durerait " + (end === start ? "zéro seconde" : "moins que rien") + NBSP + ": la fin doit venir après le début.";
      message.hidden = false;
      return;
    }
    const url = "/api/recordings/" + recording + "/plan/" + encodeURIComponent(cut.guid);
    let answer = await api("PATCH", url, body);
    if (answer.status === 409 && answer.data.confirm) {
      const sure = await confirmDialog("Déplacement inhabituel", "Pour «" + NBSP + cut.title + NBSP + "», " + answer.data.confirm.join(NBSP + "; ") + ". Est-ce bien voulu" + NBSP + "?", "Déplacer quand même");
      if (!sure) { message.textContent = "Déplacement annulé" + NBSP + ": rien n’a changé."; message.hidden = false; return; }
      answer = await api("PATCH", url, Object.assign({ confirm: true }, body));
    }
    const { ok, data } = answer;
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

  root.querySelectorAll("article.plan").forEach((a) => guarded(() => loadPlan(Number(a.dataset.recording))));
  poll();
})();
