// A picture of the body (front and back) with a tap target at every named placement.
// The person faces us in the front view, so their right side is on the viewer's left.
"use strict";
const BODY_SPOTS = {
  head: ["front", 60, 20], chest: ["front", 60, 60], waist: ["front", 60, 108],
  right_upper_arm: ["front", 32, 64], left_upper_arm: ["front", 88, 64],
  right_forearm: ["front", 25, 96], left_forearm: ["front", 95, 96],
  right_wrist: ["front", 21, 118], left_wrist: ["front", 99, 118],
  right_front_pocket: ["front", 49, 124], left_front_pocket: ["front", 71, 124],
  right_thigh: ["front", 50, 150], left_thigh: ["front", 70, 150],
  right_shank: ["front", 49, 196], left_shank: ["front", 71, 196],
  right_ankle: ["front", 48, 226], left_ankle: ["front", 72, 226],
  right_foot: ["front", 44, 240], left_foot: ["front", 76, 240],
  upper_back: ["back", 180, 62], lower_back: ["back", 180, 106],
};

function bodyFigure(cx) {
  // limbs as thick rounded strokes; the same silhouette for the front and the back view
  const l = (pts) => `<polyline points="${pts}" />`;
  return `<g class="figure">
    <circle cx="${cx}" cy="20" r="12" class="skin"/>
    <rect x="${cx - 21}" y="38" width="42" height="84" rx="16" class="skin"/>
    ${l(`${cx - 26},46 ${cx - 33},82 ${cx - 39},118`)}${l(`${cx + 26},46 ${cx + 33},82 ${cx + 39},118`)}
    ${l(`${cx - 10},118 ${cx - 10},176 ${cx - 12},228 ${cx - 17},240`)}${l(`${cx + 10},118 ${cx + 10},176 ${cx + 12},228 ${cx + 17},240`)}
  </g>`;
}

function renderBody(el, onPick, worn) {
  // worn: {placement: label} of devices already there (shown filled)
  let spots = "";
  for (const [name, [view, x, y]] of Object.entries(BODY_SPOTS)) {
    const taken = worn && worn[name] ? " taken" : "";
    spots += `<g class="spot${taken}" data-placement="${name}" tabindex="0" role="button" aria-label="${name.replace(/_/g, " ")}">
      <circle cx="${x}" cy="${y}" r="9" class="hit"/><circle cx="${x}" cy="${y}" r="5" class="dot"/><title>${name.replace(/_/g, " ")}</title></g>`;
  }
  el.innerHTML = `<svg viewBox="0 0 240 256" class="bodysvg" xmlns="http://www.w3.org/2000/svg">
    ${bodyFigure(60)}${bodyFigure(180)}
    <text x="60" y="254" class="cap">front</text><text x="180" y="254" class="cap">back</text>
    <text x="14" y="12" class="cap side">R</text><text x="106" y="12" class="cap side">L</text>
    ${spots}</svg>`;
  el.querySelectorAll(".spot").forEach((g) => {
    const pick = () => {
      el.querySelectorAll(".spot").forEach((s) => s.classList.remove("selected"));
      g.classList.add("selected");
      onPick(g.dataset.placement);
    };
    g.addEventListener("click", pick);
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
  });
}
