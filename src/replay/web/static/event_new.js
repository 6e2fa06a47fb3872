// The event creation page: shows what POST /api/events?preview=true would create (from the
// form and the programme file or address), then creates it and opens its dashboard.
// Errors say which field to fix; nothing is created before « Créer l'évènement ».
"use strict";
(function () {
  const NBSP = "\u00a0";
  const form = document.getElementById("creation");
  if (!form) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const FIELDS = ["title", "start", "end", "timezone", "rooms"];
  let previewed = null;

  function body() {
    const data = new FormData();
    FIELDS.forEach((name) => data.append(name, form.elements[name].value));
    data.append("publication_rule", form.querySelector('input[name="publication_rule"]:checked').value);
    const file = $("programme-fichier").files[0];
    if (file) data.append("programme", file, file.name);
    return data;
  }

  async function send(preview) {
    const url = $("programme-adresse").value.trim();
    const headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    let request;
    if (url && !$("programme-fichier").files[0]) {
      const json = { url, publication_rule: form.querySelector('input[name="publication_rule"]:checked').value };
      FIELDS.forEach((name) => { json[name] = form.elements[name].value; });
      request = { method: "POST", headers: Object.assign({ "Content-Type": "application/json" }, headers), body: JSON.stringify(json) };
    } else {
      request = { method: "POST", headers, body: body() };
    }
    let response;
    try {
      response = await fetch("/api/events?preview=" + (preview ? "true" : "false"), Object.assign({ credentials: "same-origin" }, request));
    } catch (error) {
      return { ok: false, data: { error: "Le serveur ne répond pas" + NBSP + ": vérifiez votre connexion, puis recommencez." } };
    }
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    return { ok: response.ok, status: response.status, data };
  }

  function clearErrors() {
    $("creation-erreur").hidden = true;
    FIELDS.forEach((name) => {
      const box = $("erreur-" + name);
      box.hidden = true;
      box.textContent = "";
      form.elements[name].removeAttribute("aria-invalid");
    });
  }

  function showError(data) {
    const text = data.error || "La demande a échoué" + NBSP + ": réessayez.";
    if (data.field && $("erreur-" + data.field)) {
      const box = $("erreur-" + data.field);
      box.textContent = text;
      box.hidden = false;
      form.elements[data.field].setAttribute("aria-invalid", "true");
      form.elements[data.field].focus();
    }
    $("creation-erreur").textContent = text;
    $("creation-erreur").hidden = false;
  }

  function el(name, text) {
    const node = document.createElement(name);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function frenchDate(iso) {
    return new Date(iso + "T12:00:00").toLocaleDateString("fr-FR", { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  }

  function showPreview(event) {
    const rows = [["Nom", event.title], ["Identifiant", event.slug],
      ["Dates", event.start === event.end ? frenchDate(event.start) : "du " + frenchDate(event.start) + " au " + frenchDate(event.end)],
      ["Fuseau horaire", event.timezone], ["Salles", event.rooms.join(", ")],
      ["Séances", String(event.session_count)]];
    $("apercu-resume").replaceChildren(...rows.flatMap(([term, value]) => [el("dt", term), el("dd", value)]));
    const sessions = (event.sessions || []).map((s) => el("li", s.title + " — " + s.room + ", " +
      new Date(s.start).toLocaleString("fr-FR", { timeZone: event.timezone, dateStyle: "short", timeStyle: "short" })));
    if (!sessions.length) sessions.push(el("li", "Aucune séance" + NBSP + ": importez le programme maintenant ou plus tard."));
    $("apercu-seances").replaceChildren(...sessions);
    $("apercu-creation").hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    $("creation-etat").textContent = "Lecture de l’évènement et du programme…";
    const { ok, data } = await send(true);
    if (!ok) { $("creation-etat").textContent = ""; $("creer").hidden = true; showError(data); return; }
    previewed = data;
    showPreview(data);
    if (data.exists) {
      $("creation-etat").textContent = "";
      showError({ error: "L’évènement «" + NBSP + data.slug + NBSP + "» existe déjà" + NBSP + ": ouvrez-le depuis la liste de vos évènements pour mettre son programme à jour." });
      $("creer").hidden = true;
      return;
    }
    $("creation-etat").textContent = "Vérifiez l’aperçu, puis créez l’évènement.";
    $("creer").hidden = false;
    $("creer").focus();
  });

  form.addEventListener("input", () => { if (previewed) { previewed = null; $("creer").hidden = true; $("creation-etat").textContent = "Le formulaire a changé" + NBSP + ": revoyez l’aperçu."; } });

  $("creer").addEventListener("click", async () => {
    clearErrors();
    $("creer").disabled = true;
    $("creation-etat").textContent = "Création de l’évènement…";
    const { ok, data } = await send(false);
    $("creer").disabled = false;
    if (!ok) { $("creation-etat").textContent = ""; showError(data); return; }
    $("creation-etat").textContent = "Évènement créé" + NBSP + ": ouverture de son tableau de bord…";
    window.location.assign("/organisateur/evenements/" + encodeURIComponent(data.slug));
  });
})();
