// The instructor's grid: polls /api/grid and redraws (no build step, no framework).
"use strict";

const POLL_MS = 2000;

function cell(text, cls, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (title) td.title = title;
  return td;
}

function draw(grid) {
  document.getElementById("realm").textContent = grid.realm;
  const head = document.querySelector("#grid thead");
  const body = document.querySelector("#grid tbody");
  const row = document.createElement("tr");
  const first = document.createElement("th");
  first.textContent = "student";
  row.appendChild(first);
  for (const ex of grid.exercises) {
    const th = document.createElement("th");
    th.textContent = `${ex.exercise}`;
    th.title = `${ex.title}: ${ex.note}`;
    if (!ex.graded) th.className = "ungraded";
    row.appendChild(th);
  }
  head.replaceChildren(row);
  const rows = [];
  for (const student of grid.students) {
    const tr = document.createElement("tr");
    tr.dataset.student = student.student;
    tr.appendChild(cell(student.student, "student", student.principal));
    for (const ex of grid.exercises) {
      const result = student.results[String(ex.exercise)];
      let td;
      if (!result) {
        td = cell(ex.note.split(":")[0], "ungraded", ex.note);
      } else {
        const cls = result.passed ? "passed" : result.done ? "partial" : "none";
        const steps = result.steps.map((s) => `${s.done ? "✔" : "✘"} ${s.step}: ${s.detail}`);
        td = cell(result.status, cls, steps.join("\n"));
      }
      td.dataset.exercise = String(ex.exercise);
      tr.appendChild(td);
    }
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  const passed = grid.students.reduce((n, s) => n + s.passed, 0);
  document.getElementById("summary").textContent =
    `${grid.students.length} students, ${passed} graded exercises passed in all`;
  document.getElementById("updated").textContent =
    "Updated " + new Date(grid.generated * 1000).toLocaleTimeString();
}

// The dashboard's token comes in the URL's fragment (#token=...), which no request carries.
const TOKEN = new URLSearchParams(location.hash.slice(1)).get("token") || "";

// The class trace's page, decoded as the instructor: it sends the same token.
document.getElementById("trace-link").href = `/trace/#token=${encodeURIComponent(TOKEN)}`;

async function poll() {
  const live = document.getElementById("live");
  try {
    const response = await fetch("/api/grid", {
      cache: "no-store",
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    if (!response.ok) throw new Error(String(response.status));
    draw(await response.json());
    live.classList.remove("off");
    live.textContent = "● live";
  } catch (err) {
    live.classList.add("off");
    live.textContent = "● disconnected";
  }
  setTimeout(poll, POLL_MS);
}

poll();
