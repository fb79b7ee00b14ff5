"""The activity registry: id -> plain-language label, generator, postures and caption phrasings.

Labels use the words of the real evaluation datasets where the activity is the same (HMP wrist ADL,
the WATCH shoulder exercises, BasicMotions): "brushing teeth", "climbing stairs", "shoulder
abduction", "playing badminton", ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from anymo.motion.procedural import daily, exercise, gait, postures, sports

STAND, SIT, LIE = "standing", "sitting", "lying"


@dataclass(frozen=True)
class ActivitySpec:
    """One activity: how to generate it and how to talk about it.

    ``phrases`` are predicates completed by a subject ("a person" + "walks {speed}{arms}"), with
    slots filled from the sampled parameters: {speed} {hand} {hands} {tempo} {arms} {place} {posture}
    {side} {stroke}. ``speed_mps`` is the sampled speed range for gait (None: not moving).
    """

    text: str
    render: Callable
    phrases: tuple[str, ...]
    postures: tuple[str, ...] = (STAND,)  # postures it can be done in (first = default)
    start: str | None = None  # for transitions: posture before / after
    end: str | None = None
    speed_mps: tuple[float, float] | None = None
    in_place_prob: float = 0.0
    one_handed: bool = False
    tempo_ref_hz: float = 0.0  # typical repetition rate, for the tempo words
    kind: str = "activity"  # "gait", "posture", "transition", "activity"

    def start_posture(self, chosen: str | None = None) -> str:
        return self.start or chosen or self.postures[0]

    def end_posture(self, chosen: str | None = None) -> str:
        return self.end or chosen or self.postures[0]


def _walk(text: str, speed: tuple[float, float]) -> ActivitySpec:
    return ActivitySpec(
        text, gait.walking,
        ("walks {speed}{arms}", "is walking {speed} across the room{arms}", "takes a walk {speed}, at about {cadence} steps per minute",
         "strolls along {speed}"),
        speed_mps=speed, kind="gait",
    )  # fmt: skip


REGISTRY: dict[str, ActivitySpec] = {
    # --- locomotion
    "walking_slow": _walk("walking slowly", (0.6, 1.0)),
    "walking": _walk("walking", (1.05, 1.5)),
    "walking_brisk": _walk("walking briskly", (1.55, 2.0)),
    "jogging": ActivitySpec("jogging", gait.running,
        ("jogs {speed} {place}", "is jogging {speed} {place}{arms}", "goes for a jog {speed} {place}, about {cadence} steps per minute"),
        speed_mps=(2.0, 3.0), in_place_prob=0.3, kind="gait"),
    "running": ActivitySpec("running", gait.running,
        ("runs {speed}", "is running {speed}, arms pumping", "sprints along {speed} at about {cadence} steps per minute"),
        speed_mps=(3.0, 5.5), kind="gait"),
    "climbing_stairs": ActivitySpec("climbing stairs", lambda p, r, s, t: gait.stairs(p, r, s, t, up=True),
        ("climbs stairs {tempo}", "walks up a flight of stairs {tempo}", "is going upstairs, one step at a time"), kind="gait"),
    "descending_stairs": ActivitySpec("descending stairs", lambda p, r, s, t: gait.stairs(p, r, s, t, up=False),
        ("descends stairs {tempo}", "walks down a flight of stairs {tempo}", "is going downstairs, one step at a time"), kind="gait"),
    # --- postures and transitions
    "standing": ActivitySpec("standing", postures.standing,
        ("stands{still}{idle}", "is standing{quietly}, swaying slightly{idle}", "stands upright{arms_hanging}{idle}"), kind="posture"),
    "sitting": ActivitySpec("sitting", postures.sitting,
        ("sits on a chair", "is sitting still with the hands on the thighs", "sits quietly"), postures=(SIT,), kind="posture"),
    "lying": ActivitySpec("lying", postures.lying,
        ("lies on a bed", "is lying on the back, resting", "lies still, breathing calmly"), postures=(LIE,), kind="posture"),
    "sit_to_stand": ActivitySpec("standing up from a chair", postures.sit_to_stand,
        ("stands up from a chair", "gets up from a seated position", "rises from a chair {tempo}"), start=SIT, end=STAND, kind="transition"),
    "stand_to_sit": ActivitySpec("sitting down on a chair", postures.stand_to_sit,
        ("sits down on a chair", "lowers into a chair {tempo}", "takes a seat"), start=STAND, end=SIT, kind="transition"),
    "lying_down": ActivitySpec("lying down on bed", postures.lying_down,
        ("lies down on a bed", "sits on the edge of the bed, then lies back", "gets into bed and lies down"), start=STAND, end=LIE, kind="transition"),
    "getting_up": ActivitySpec("getting up from bed", postures.getting_up,
        ("gets up from bed", "sits up in bed and stands up", "rises from lying in bed to standing"), start=LIE, end=STAND, kind="transition"),
    # --- everyday arm activities
    "brushing_teeth": ActivitySpec("brushing teeth", daily.brushing_teeth,
        ("brushes the teeth {hand}", "is brushing teeth with quick strokes, toothbrush {held}", "cleans the teeth with a toothbrush {held}"),
        one_handed=True, tempo_ref_hz=3.5),
    "combing_hair": ActivitySpec("combing hair", daily.combing_hair,
        ("combs the hair {hand}", "is combing hair {tempo}, comb {held}", "runs a comb through the hair {hand}"), one_handed=True, tempo_ref_hz=1.0),
    "drinking": ActivitySpec("drinking from a glass", daily.drinking,
        ("drinks from a glass {hand}", "takes sips from a glass {held}{posture}", "raises a glass to the mouth {hand} and drinks"),
        postures=(STAND, SIT), one_handed=True, tempo_ref_hz=1 / 6),
    "eating_soup": ActivitySpec("eating soup", daily.eating_soup,
        ("eats soup with a spoon {held}", "is eating soup at a table, spoon {held}", "spoons soup to the mouth {hand} {tempo}"),
        postures=(SIT,), one_handed=True, tempo_ref_hz=1 / 4),
    "eating_meat": ActivitySpec("eating meat", daily.eating_meat,
        ("cuts meat with a knife {held} and eats it with a fork in the other hand", "cuts a piece of meat and lifts it to the mouth on the fork",
         "is eating a meal with knife and fork, sawing with the knife {held} while the fork hand lifts each bite"),
        postures=(SIT,), one_handed=True, tempo_ref_hz=1 / 7),
    "phone_call": ActivitySpec("using the telephone", daily.phone_call,
        ("talks on the phone, holding it {held}", "holds a phone to the {side} ear{posture}", "is on a phone call, phone {held}"),
        postures=(STAND, SIT), one_handed=True),
    "pouring_water": ActivitySpec("pouring water", daily.pouring_water,
        ("pours water from a jug {hand}", "tilts a jug {held} to pour water", "is pouring water into a glass {hand}"), one_handed=True, tempo_ref_hz=1 / 5.5),
    "waving": ActivitySpec("waving", daily.waving,
        ("waves {hand}", "is waving hello {tempo} {hand}", "raises the {side} hand and waves"), one_handed=True, tempo_ref_hz=2.2),
    "clapping": ActivitySpec("clapping", daily.clapping,
        ("claps {tempo}", "is clapping both hands together{posture}", "applauds, clapping {tempo}"), postures=(STAND, SIT), tempo_ref_hz=2.5),
    "typing": ActivitySpec("typing", daily.typing,
        ("types on a keyboard", "is typing at a desk with both hands", "sits at a computer and types {tempo}"), postures=(SIT,), tempo_ref_hz=5.0),
    # --- shoulder physiotherapy and arm strength
    "shoulder_pendulum": ActivitySpec("shoulder pendulum swing", exercise.shoulder_pendulum,
        ("does pendulum swings, bent forward with the {side} arm hanging", "lets the {side} arm swing like a pendulum in {pendulum}",
         "leans on a table and circles the relaxed {side} arm"), one_handed=True, tempo_ref_hz=0.75),
    "shoulder_abduction": ActivitySpec("shoulder abduction", exercise.shoulder_abduction,
        ("raises {arm_obj} out to the side {tempo}", "does shoulder abduction, lifting {arm_obj} sideways", "performs lateral arm raises with {arm_obj}"),
        tempo_ref_hz=1 / 3.75),
    "shoulder_forward_elevation": ActivitySpec("shoulder forward elevation", exercise.shoulder_forward_elevation,
        ("raises {arm_obj} forward and up {tempo}", "does forward shoulder raises with {arm_obj}", "lifts {arm_obj} straight in front overhead"),
        tempo_ref_hz=1 / 3.75),
    "shoulder_internal_rotation": ActivitySpec("shoulder internal rotation", exercise.shoulder_internal_rotation,
        ("rotates {arm_obj} inward with the elbow bent", "does internal shoulder rotations with {arm_obj}", "swings the forearm across the belly, elbow at the side, using {arm_obj}"),
        tempo_ref_hz=1 / 3),
    "shoulder_external_rotation": ActivitySpec("shoulder external rotation", exercise.shoulder_external_rotation,
        ("rotates {arm_obj} outward with the elbow bent", "does external shoulder rotations with {arm_obj}", "turns the forearm out to the side, elbow tucked in, using {arm_obj}"),
        tempo_ref_hz=1 / 3),
    "trapezius_row": ActivitySpec("trapezius row", exercise.trapezius_row,
        ("pulls {arm_obj} down and back with straight elbows", "does a trapezius row with {arm_obj}, squeezing the shoulder blades", "sweeps {arm_obj} back past the hips"),
        tempo_ref_hz=1 / 3.5),
    "upright_row": ActivitySpec("upright row", exercise.upright_row,
        ("does upright rows with {arm_obj}", "lifts the hands from the thighs to the chin, elbows high", "performs an upright row {tempo} with {arm_obj}"),
        tempo_ref_hz=1 / 3.5),
    "shoulder_shrug": ActivitySpec("shoulder shrugs", exercise.shoulder_shrug,
        ("shrugs {shoulders} {tempo}", "lifts the shoulders towards the ears", "does shoulder shrugs"), tempo_ref_hz=1 / 2.25),
    "arm_curls": ActivitySpec("arm curls", exercise.arm_curls,
        ("does biceps curls with {arm_obj}", "curls {arm_obj} up to the shoulder {tempo}", "bends and straightens {arm_obj} at the elbow, palm up"),
        tempo_ref_hz=1 / 3),
    # --- whole-body exercise
    "squats": ActivitySpec("squats", exercise.squats,
        ("does squats {tempo}", "squats down and stands back up, arms forward", "performs bodyweight squats"), tempo_ref_hz=1 / 3.5),
    "lunges": ActivitySpec("lunges", exercise.lunges,
        ("does lunges with the {side} leg forward", "lunges down {tempo}, {side} foot in front", "performs split squats, {side} leg leading"), tempo_ref_hz=1 / 3.5),
    "jumping": ActivitySpec("jumping", exercise.jumping,
        ("jumps up and down on the spot", "does vertical jumps {tempo}, swinging the arms", "hops in place, jumping straight up"), tempo_ref_hz=0.8),
    "jumping_jacks": ActivitySpec("jumping jacks", exercise.jumping_jacks,
        ("does jumping jacks {tempo}", "jumps the feet apart while clapping the arms overhead", "performs star jumps"), tempo_ref_hz=1.0),
    "cycling": ActivitySpec("cycling", exercise.cycling,
        ("rides a bicycle {speed}", "is cycling, pedalling {tempo}", "pedals a bike along the road {speed}"), tempo_ref_hz=1.25),
    # ridden on a saddle, but one gets on and off a bike from standing: no "sits down on a chair" before it
    # --- sports and manual work
    "punching": ActivitySpec("punching", sports.punching,
        ("throws punches {tempo}", "boxes, jabbing and throwing crosses", "is punching the air from a guard"), tempo_ref_hz=0.8),
    "throwing": ActivitySpec("throwing", sports.throwing,
        ("throws a ball overarm {hand}", "winds up and throws {hand}", "is throwing a ball {tempo} {hand}"), one_handed=True, tempo_ref_hz=1 / 3.25),
    "playing_badminton": ActivitySpec("playing badminton", sports.playing_badminton,
        ("plays badminton, racket {held}", "swings a badminton racket {held}, hitting {stroke}", "is playing badminton with {stroke}, racket {held}"),
        one_handed=True, tempo_ref_hz=1 / 1.95),
    "swinging_bat": ActivitySpec("swinging a bat", sports.swinging_bat,
        ("swings a bat with both hands", "takes batting swings {tempo}", "swings a baseball bat from the {side} shoulder"), tempo_ref_hz=1 / 3.25),
    "pushing": ActivitySpec("pushing", sports.pushing,
        ("pushes something heavy with both hands", "is pushing forward with both arms {tempo}", "leans in and pushes with both hands"), tempo_ref_hz=1 / 2.25),
    "pulling": ActivitySpec("pulling", sports.pulling,
        ("pulls something towards the body with both hands", "is pulling a rope {tempo}", "leans back and pulls with both hands"), tempo_ref_hz=1 / 2.25),
}  # fmt: skip

ACTIVITIES: tuple[str, ...] = tuple(REGISTRY)
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    (STAND, SIT): ("stand_to_sit",),
    (SIT, STAND): ("sit_to_stand",),
    (STAND, LIE): ("lying_down",),
    (LIE, STAND): ("getting_up",),
    (SIT, LIE): ("sit_to_stand", "lying_down"),
    (LIE, SIT): ("getting_up", "stand_to_sit"),
}


def spec(activity: str) -> ActivitySpec:
    """The registry entry; unknown ids raise listing the valid ones."""
    try:
        return REGISTRY[activity]
    except KeyError:
        raise ValueError(f"unknown activity {activity!r}; valid activities are: {', '.join(ACTIVITIES)}") from None


def activity_text(activity: str) -> str:
    """Plain-language label of an activity id, e.g. "brushing_teeth" -> "brushing teeth"."""
    return spec(activity).text
