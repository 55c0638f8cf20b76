"""The interpreter's vocabulary: the phrases :mod:`napari_textif.interpretation` recognises.

Degradation words by family and base strength, modality names, intensity words,
negations, "is fine" statements, preference targets and verbs, the words that cut
a prompt into segments and clauses, common misspellings. Plain data, no logic:
adding a synonym is a one-line change here (and a row in tests/test_interpret.py).
"""

from __future__ import annotations

# Phrases are written in lower case, words separated by spaces; hyphenated forms
# ("low-light", "infra-red") are matched because the tokenizer splits at hyphens.

#: family -> {base strength: phrases}
DEGRADATION_WORDS: dict[str, dict[float, str]] = {
    "low_light": {
        0.6: "dark, darkness, darker, darkened, too dark, low light, lowlight, low lit, low lighting, "
        "under exposed, underexposed, underexposure, underexposing, under exposure, poorly lit, "
        "badly lit, underlit, under lit, unlit, not enough light, too little light, lack of light, "
        "insufficient light, low illumination, poor illumination, poor lighting, bad lighting, "
        "lighting is poor, lighting is bad, light is low, gloomy, murky dark, brighten, lighten, "
        "illuminate, low light enhancement, exposure is low, needs more light, brighter",
        0.7: "night, nighttime, night time, at night, night scene, nightly, after dark, nocturnal",
        0.4: "dim, dimly, dimly lit, dimmed, dusk, twilight, evening, shadowy, shadows",
        1.0: "pitch dark, pitch black, pitch-black, completely black, almost black, nearly black",
    },
    "overexposure": {
        0.6: "overexposed, overexposure, over exposed, over exposure, overexposing, glare, glaring, "
        "glares, too bright, too much light, washed out, washout, blown out, blown highlights, "
        "highlights blown, clipped highlights, burnt out, burned out, saturated highlights, "
        "overbright, over bright, dazzle, dazzling, dazzled, blinding, sun glare, lens flare, "
        "flare, too much exposure, exposure is too high, reduce glare, darken",
        0.5: "headlights, headlight glare, bright lights, strong sunlight, backlit, back lit",
    },
    "noise": {
        0.6: "noise, noisy, noises, noisier, grain, grainy, graininess, speckle, speckles, speckled, "
        "speckling, salt and pepper, salt and pepper noise, salt & pepper, salt pepper, "
        "impulse noise, impulsive noise, "
        "shot noise, sensor noise, gaussian noise, random noise, read noise, static, snowy pixels, "
        "hot pixels, dead pixels, denoise, denoising, denoised, de noise",
    },
    "haze": {
        0.6: "haze, hazy, hazier, haziness, fog, foggy, fogged, fogging, mist, misty, smoke, smoky, "
        "smokey, smog, smoggy, dust, dusty, murky, dehaze, dehazing, de haze, veiled, veil",
        0.8: "dense fog, thick fog, heavy fog, dense haze, thick smoke",
    },
    "rain": {
        0.6: "rain, rainy, raining, rained, raindrop, raindrops, rain drops, rain drop, rain streaks, "
        "rain streak, rainfall, wet lens, water drops, water droplets, droplets, drops on the lens, "
        "water on the lens, derain, deraining, de rain, showers, rainstorm, storm",
        0.3: "drizzle, drizzling, sprinkle",
        0.9: "downpour, pouring, torrential, heavy rainfall",
    },
    "blur": {
        0.6: "blur, blurry, blurred, blurring, blurriness, blury, bluriness, out of focus, "
        "outoffocus, unfocused, defocus, defocused, defocussed, not in focus, motion blur, "
        "motion blurred, camera shake, shaky, shaken, smeared, smeary, smudged, fuzzy, "
        "soft focus, not sharp, unsharp, deblur, deblurring, de blur, sharpen, refocus",
    },
    "low_contrast": {
        0.6: "low contrast, lowcontrast, poor contrast, weak contrast, bad contrast, little contrast, "
        "no contrast, lacks contrast, lacking contrast, lack of contrast, not much contrast, "
        "low in contrast, poor in contrast, lacking in contrast, "
        "flat, flattened, faint, dull, washed, contrast is low, contrast is poor, "
        "contrast is weak, contrast is bad, enhance contrast, boost contrast, increase contrast, "
        "improve contrast, more contrast, needs contrast, thermal crossover, crossover, "
        "indistinct, featureless",
    },
    "stripes": {
        0.6: "stripe, stripes, striped, striping, stripy, stripe noise, striping noise, "
        "banding, bands, banded, fixed pattern, fixed pattern noise, fixed-pattern noise, fpn, "
        "non uniformity, nonuniformity, non uniform, nonuniform, column noise, row noise, "
        "column pattern, vertical lines, vertical stripes, horizontal stripes, streaky columns, "
        "destripe, destriping, de stripe, lines across",
    },
}

#: family -> the control per camera (None: not a control of that camera)
FAMILY_CONTROLS: dict[str, dict[str, str | None]] = {
    "low_light": {"vis": "vis_low_light", "ir": "ir_low_contrast"},
    "overexposure": {"vis": "vis_overexposure", "ir": None},
    "noise": {"vis": "vis_noise", "ir": "ir_noise"},
    "haze": {"vis": "vis_haze", "ir": None},
    "rain": {"vis": "vis_rain", "ir": None},
    "blur": {"vis": "vis_blur", "ir": None},
    "low_contrast": {"vis": None, "ir": "ir_low_contrast"},
    "stripes": {"vis": None, "ir": "ir_stripe_noise"},
}
#: The camera a degradation word means when the prompt names none ("both" for noise).
FAMILY_DEFAULT = {
    "low_light": "vis", "overexposure": "vis", "haze": "vis", "rain": "vis", "blur": "vis",
    "low_contrast": "ir", "stripes": "ir", "noise": "both",
}

MODALITY_WORDS: dict[str, str] = {
    "ir": "infrared, infra red, ir, thermal, thermo, thermography, thermogram, lwir, mwir, tir, "
    "flir, heat camera, heat image, heat sensor, thermal camera, thermal image, bolometer, "
    "microbolometer, long wave, longwave",
    "vis": "visible, vis, vi, rgb, colour camera, color camera, colour image, color image, "
    "colour picture, color picture, colour sensor, color sensor, optical, optical camera, "
    "daylight camera, day camera, daylight image, visual, visible light, eo, cmos, ccd",
    "both": "both, both images, both cameras, both modalities, all images, all cameras, "
    "each image, every image, either image, everywhere, all of them, the two images",
}

INTENSITY_WORDS: dict[float, str] = {
    0.15: "barely, hardly, a hint of, hint of, a trace of, trace of",
    0.3: "slightly, slight, a bit, a bit of, a little, a little bit, bit, little, mild, mildly, "
    "somewhat, light, lightly, a touch, touch of, a touch of, marginally, minor, small, weak, "
    "weakly, partly, partially, kind of, kinda, sort of, a tad, tad, low, lowish, not too, "
    "not very, not so, not that, faintly, subtle, subtly",
    0.4: "some, a few",
    0.5: "moderate, moderately, medium, average, fair amount of, noticeable, noticeably, visible amount",
    0.7: "fairly, rather, pretty, quite, clearly, obviously, obvious, lots, plenty of, considerably",
    0.8: "very, really, strong, strongly, heavy, heavily, lots of, a lot of, lot of, much, so, "
    "high, dense, thick, bad, badly, serious, seriously, intense, intensely, considerable, "
    "significant, significantly, major, big, strongly, way too, too, deep, deeply, harsh",
    1.0: "severe, severely, extreme, extremely, terribly, terrible, horribly, horrible, awful, "
    "awfully, completely, totally, utterly, entirely, fully, super, insanely, incredibly, "
    "very very, really really, massive, massively, maximum, max, full, unusable, pitch",
}

NEGATIONS = (
    "no, not, without, never, neither, none, isnt, arent, wasnt, werent, doesnt, dont, didnt, "
    "hasnt, havent, cannot, free of, no sign of, no signs of, zero, nothing like, lacks any, "
    "no longer, not any, nor"
)
#: Phrases that look like a negation but are not one.
NOT_NEGATIONS = (
    "not only, not just, dont want, do not want, don't want, no matter, nothing else, "
    "cannot see, can't see, cant see, not see, hard to see, not visible"
)
FINE_WORDS = (
    "fine, ok, okay, good, clean, perfect, great, normal, alright, all right, acceptable, "
    "pristine, undegraded, flawless, nothing wrong, no problem, no problems, no issue, no issues, "
    "not degraded, no degradation, no degradations, unaffected, intact, healthy, looks fine, "
    "looks good, is fine, are fine, correct, well exposed, nice"
)
THERMAL_TARGETS = (
    "people, person, persons, pedestrian, pedestrians, human, humans, body, bodies, target, targets, "
    "hot targets, thermal targets, warm targets, infrared targets, ir targets, hot objects, "
    "warm objects, hot spots, hotspots, heat signatures, heat signature, heat, warm, hot, "
    "vehicles, vehicle, cars, car, animals, animal, figures, figure, runners, cyclists, cyclist, "
    "salient targets, salient objects, objects, object, thermal information, thermal detail, "
    "thermal details, heat sources, engines, faces, soldiers, intruders, wildlife"
)
DETAIL_TARGETS = (
    "texture, textures, detail, details, fine detail, fine details, edges, edge, structure, "
    "structures, visible texture, visible textures, visible details, visible detail, background, "
    "background details, scene details, sharpness, clarity, contours, outlines, text, signs, "
    "road markings, patterns, fine structures"
)
VERBS_UP = (
    "highlight, highlighted, highlighting, emphasize, emphasise, emphasized, emphasised, "
    "emphasis on, accentuate, stress, boost, bring out, stand out, make, keep, preserve, "
    "retain, maintain, enhance, show, focus on, favor, favour, prefer, more, increase, rely on, "
    "trust, mostly, mainly, weight, weigh, protect, prioritize, prioritise, see, spot, detect, pop"
)
VERBS_DOWN = (
    "less, reduce, suppress, downplay, de emphasize, de emphasise, deemphasize, deemphasise, "
    "tone down, fewer, decrease, lower, minimize, minimise, ignore, drop, avoid, dim down"
)
#: Words after a target that ask for it to show ("people bright", "pedestrians stand out").
AFTER_TARGET = (
    "bright, brighter, visible, stand out, stands out, pop, pops, prominent, clear, clearly, "
    "salient, highlighted, emphasized, emphasised, vivid, distinct, obvious, hot, white, glowing, "
    "easy to see, noticeable, recognizable, recognisable"
)
#: Preferences set by one phrase: (preference, value).
DIRECT_PREFERENCES: dict[tuple[str, float], str] = {
    ("thermal_emphasis", -0.4): "natural colors, natural colours, natural color, natural colour, "
    "natural look, natural looking, natural appearance, true colors, true colours, realistic colors, "
    "realistic colours, realistic look, keep colors, keep colours, keep the colors, keep the colours",
    ("detail_emphasis", 0.5): "sharper, crisper, crisp, more detailed, detailed, high detail, "
    "fine grained detail",
    ("detail_emphasis", -0.5): "smoother, smooth, softer, soft, less detailed, painterly",
}
UNSUPPORTED = (
    "snow, snowing, snowy, snowfall, low resolution, lowres, low res, pixelated, pixelation, "
    "compression, compression artifacts, jpeg, jpeg artifacts, artifacts, artefacts, blocky, "
    "misaligned, misregistered, misregistration, "
    "misalignment, not aligned, registration, color cast, colour cast, white balance, tint, "
    "vignetting, vignette, occlusion, occluded, moire, chromatic aberration, distortion, distorted"
)
#: Words of a plain fusion request: a prompt with only these needs no "not understood" note.
TASK_WORDS = "fuse, fusion, fused, fusing, merge, merged, combine, combined, blend, integrate, integrating"
WEAK_BOUNDARIES = (
    "and, &, plus, also, as well as, then, with it, along with, together with, "
    "except, except for, apart from, other than, aside from, save for, but for, but also"
)
STRONG_BOUNDARIES = (
    "but, however, whereas, while, whilst, although, though, yet, besides, on the other hand, "
    "meanwhile, despite, instead"
)
#: Verbs that ask for a target to show but say nothing about weighting a camera.
#: Words of other categories that act as a verb beside a thermal or detail target.
VERB_LIKE = {"brighten", "brighter", "visible", "lighten"}
POST_NEGATIONS = {"free", "gone", "removed", "absent", "less"}
ARTICLES = {"the", "a", "an", "its", "their", "all", "any", "of"}
NOT_MODALITY_VERBS = {"make", "see", "spot", "detect", "show", "pop", "stand out"}
SENTENCE_ENDS = (".", ";", "!", "?", "\n")
#: Item categories that, in its segment, stop a verb from weighting a camera ("more infrared").
BLOCKS_CAMERA_WEIGHT = ("deg", "hot", "detail")

#: Common misspellings and variants, mapped before the lexicon is matched.
ALIASES = {
    "infared": "infrared", "infrered": "infrared", "infrarred": "infrared", "inrared": "infrared",
    "infrad": "infrared", "thermel": "thermal", "thremal": "thermal", "termal": "thermal",
    "visable": "visible", "visibile": "visible", "visble": "visible", "blurr": "blur",
    "blurrey": "blurry", "noisey": "noisy", "nosiy": "noisy", "hazey": "hazy", "foggey": "foggy",
    "overexpose": "overexposed", "underexpose": "underexposed", "strips": "stripes",
}
#: Long key words that a one-letter typo still reaches ("infrafed", "visibel").
FUZZY_TARGETS = (
    "infrared", "thermal", "visible", "overexposed", "underexposed", "overexposure",
    "underexposure", "striping", "speckled", "blurred", "blurriness",
)

# --- other pair kinds (interpret(prompt, kind=...); napari_textif.pairkinds names the roles) ------

#: role -> the names of its modality; each is read as that role's camera ("the CT is noisy").
#: "T1"/"T2" are written "t 1"/"t 2" because the tokenizer splits letters from digits.
ROLE_WORDS: dict[str, str] = {
    "mri": "mri, mr, mr image, mr images, magnetic resonance, magnetic resonance image, t 1, t 2, "
    "t 1 weighted, t 2 weighted, t 1w, t 2w, flair, proton density, structural image, structural scan",
    "ct": "ct, ct scan, ct image, cat scan, computed tomography, x ray ct",
    "pet": "pet, pet scan, pet image, positron emission tomography, fdg, fdg pet",
    "spect": "spect, spet, spect scan, spect image, single photon emission tomography",
    "a": "channel a, channel 1, first channel, first image, first one",
    "b": "channel b, channel 2, second channel, second image, second one",
}
#: role -> what its image shows; a verb or "bright"/"visible" beside these weights that role
#: ("keep the bone bright": its intensity; "more soft-tissue detail": detail).
ROLE_TARGETS: dict[str, str] = {
    "mri": "soft tissue, soft tissues, soft tissue detail, soft tissue details, soft tissue contrast, "
    "anatomy, anatomical detail, anatomical details, anatomical structure, brain structure, "
    "brain structures, grey matter, gray matter, white matter, gyri, sulci, ventricles, cortex, "
    "tissue contrast, tissue detail, structural detail, structural details",
    "ct": "bone, bones, bony, bony structures, bone structure, bone structures, skull, "
    "calcification, calcifications, dense structures, dense tissue, hard tissue",
    "pet": "uptake, pet uptake, tracer uptake, fdg uptake, metabolism, metabolic activity, "
    "activity, hot spots, hotspots, lesion, lesions, tumour, tumor, tumours, tumors, "
    "function, functional information, functional signal, pet signal, pet colours, pet colors",
    "spect": "uptake, spect uptake, tracer uptake, perfusion, blood flow, activity, hot spots, "
    "lesion, lesions, function, functional information, functional signal, spect signal, "
    "spect colours, spect colors",
}
