// Renders explanations: {texts: [...], columns: [{label, items: [explanation...],
// similarity: [[...]] | null}]} (items[t] explains texts[t]; see reba.engine.explain).
// Shared by `reba explain --html` and the playground of `reba serve`; no dependencies.
"use strict";

function rebaEl(tag, attrs, text) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function rebaTokens(column, t, item) {
  const box = rebaEl("div", {"class": "tokens"});
  item.inputs.forEach((input, n) => {
    const line = rebaEl("div", {"class": "input"});
    const top = Math.max(...input.weights) || 1;
    const word = new Set(input.word || []);
    input.tokens.forEach((tok, j) => {
      const w = input.weights[j];
      const seg = input.segments[j].replace(" ", "-");
      // "" : a byte token that only starts a character (the next token completes it)
      const shown = tok.replace(/\n/g, "\u23ce");
      const span = rebaEl("span", {
        "class": "tok seg-" + seg + (word.has(j) ? " word" : "") + (tok === "" ? " partial" : "") +
                 (j && input.segments[j - 1] !== input.segments[j] ? " seg-start" : ""),
        "data-config": column, "data-text": t, "data-input": n, "data-pos": j,
        "data-weight": w.toFixed(6),
        "title": input.segments[j] + ", weight " + w.toFixed(4),
        "style": "background: rgba(230, 90, 20, " + (0.85 * w / top).toFixed(3) + ")",
      }, shown);
      line.appendChild(span);
    });
    box.appendChild(line);
  });
  return box;
}

function rebaSimilarity(column, labels, matrix) {
  const table = rebaEl("table", {"class": "sim", "data-config": column});
  const head = rebaEl("tr");
  head.appendChild(rebaEl("th", {}, ""));
  labels.forEach((_, j) => head.appendChild(rebaEl("th", {}, String(j + 1))));
  table.appendChild(head);
  matrix.forEach((row, i) => {
    const tr = rebaEl("tr");
    tr.appendChild(rebaEl("th", {"title": labels[i]}, String(i + 1)));
    row.forEach((v, j) => {
      const shade = Math.max(0, v) * 0.6;
      tr.appendChild(rebaEl("td", {
        "class": "cell", "data-i": i, "data-j": j, "data-value": v.toFixed(6),
        "style": "background: rgba(40, 120, 200, " + shade.toFixed(3) + ")",
      }, v.toFixed(3)));
    });
    table.appendChild(tr);
  });
  return table;
}

function rebaRender(root, data) {
  root.textContent = "";
  root.appendChild(rebaEl("p", {"class": "legend"},
    "Each token is shaded by its weight in the read-out (darkest = largest; hover for the " +
    "number). Grey: template or special tokens; underlines tell the copies of a repetition " +
    "apart; a dashed box marks the word."));
  data.texts.forEach((text, t) => {
    root.appendChild(rebaEl("h2", {}, (t + 1) + ". " + text));
    const row = rebaEl("div", {"class": "row"});
    data.columns.forEach((col, c) => {
      const box = rebaEl("div", {"class": "col"});
      box.appendChild(rebaEl("h3", {}, col.label));
      const item = col.items[t];
      box.appendChild(rebaTokens(c, t, item));
      if (item.note) box.appendChild(rebaEl("p", {"class": "note"}, "Note: " + item.note));
      row.appendChild(box);
    });
    root.appendChild(row);
  });
  if (data.texts.length > 1) {
    root.appendChild(rebaEl("h2", {}, "Cosine similarity"));
    const row = rebaEl("div", {"class": "row", "id": "similarity"});
    data.columns.forEach((col, c) => {
      const box = rebaEl("div", {"class": "col"});
      box.appendChild(rebaEl("h3", {}, col.label));
      box.appendChild(rebaSimilarity(c, data.texts, col.similarity));
      row.appendChild(box);
    });
    root.appendChild(row);
  }
}

function rebaCosine(vectors) {
  const unit = vectors.map(v => {
    const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
    return v.map(x => x / n);
  });
  return unit.map(a => unit.map(b => a.reduce((s, x, i) => s + x * b[i], 0)));
}
