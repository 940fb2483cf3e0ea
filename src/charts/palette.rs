//! Chart colours (shared by the screen and every export).

use super::model::Rgb;

/// Categorical palette (Tableau 10), for answers and paths.
pub const CATEGORICAL: [Rgb; 10] = [
    Rgb(78, 121, 167),
    Rgb(242, 142, 43),
    Rgb(225, 87, 89),
    Rgb(118, 183, 178),
    Rgb(89, 161, 79),
    Rgb(237, 201, 72),
    Rgb(176, 122, 161),
    Rgb(255, 157, 167),
    Rgb(156, 117, 95),
    Rgb(186, 176, 172),
];

pub const RIGHT: Rgb = Rgb(46, 160, 67);
pub const WRONG: Rgb = Rgb(214, 61, 57);
pub const NEUTRAL: Rgb = Rgb(150, 150, 150);
/// Point marks (forks, first candidates): a grey that reads on a white and
/// on a near-black background alike (near-black vanished in the dark theme).
pub const MARK: Rgb = Rgb(115, 115, 115);
/// Text marks (labels on a chart): drawn in the theme's text colour on
/// screen, in this dark grey in exports (white background). A fixed dark
/// grey was faint in the dark theme.
pub const INK: Rgb = Rgb(50, 50, 50);
pub const ACCENT: Rgb = Rgb(78, 121, 167);
pub const FORWARD: Rgb = Rgb(78, 121, 167);
pub const REFLECT: Rgb = Rgb(242, 142, 43);

pub fn categorical(i: usize) -> Rgb {
    CATEGORICAL[i % CATEGORICAL.len()]
}

/// The name of categorical colour `i`, for titles that stand in for a legend.
pub fn categorical_name(i: usize) -> &'static str {
    const NAMES: [&str; 10] = [
        "blue", "orange", "red", "teal", "green", "yellow", "purple", "pink", "brown", "grey",
    ];
    NAMES[i % NAMES.len()]
}

/// Colour of a chosen answer: right/wrong when gold is known.
pub fn verdict(correct: Option<bool>) -> Rgb {
    match correct {
        Some(true) => RIGHT,
        Some(false) => WRONG,
        None => ACCENT,
    }
}
