//! Colours as WCAG 2.1 measures them: relative luminance, contrast ratio,
//! and the nearest colour that reaches a ratio (same hue and saturation,
//! lightness moved as little as possible), for the hint.

use std::fmt;

/// An sRGB colour, channels 0..=1, with alpha.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgba {
    pub r: f64,
    pub g: f64,
    pub b: f64,
    pub a: f64,
}

impl Rgba {
    pub const BLACK: Rgba = Rgba::opaque(0.0, 0.0, 0.0);
    pub const WHITE: Rgba = Rgba::opaque(1.0, 1.0, 1.0);

    pub const fn opaque(r: f64, g: f64, b: f64) -> Rgba {
        Rgba { r, g, b, a: 1.0 }
    }

    /// A CSS colour as stylesheets for email write them (`#abc`, `#abcd`,
    /// `#aabbcc`, `#aabbccdd`, `rgb()`/`rgba()`, the basic names); `None`
    /// for anything else (`inherit`, `currentColor`, a gradient), which
    /// the check then leaves alone rather than guess.
    pub fn parse(css: &str) -> Option<Rgba> {
        let c = css.trim().to_ascii_lowercase();
        if let Some(h) = c.strip_prefix('#') {
            return Rgba::hex_digits(h);
        }
        if let Some(args) = c
            .strip_prefix("rgba(")
            .or_else(|| c.strip_prefix("rgb("))
            .and_then(|a| a.strip_suffix(')'))
        {
            let parts: Vec<&str> = args
                .split([',', ' ', '/'])
                .filter(|p| !p.is_empty())
                .collect();
            let channel = |p: &str| match p.strip_suffix('%') {
                Some(n) => n.parse::<f64>().ok().map(|n| n / 100.0),
                None => p.parse::<f64>().ok().map(|n| n / 255.0),
            };
            let alpha = |p: &str| match p.strip_suffix('%') {
                Some(n) => n.parse::<f64>().ok().map(|n| n / 100.0),
                None => p.parse::<f64>().ok(),
            };
            return match parts.as_slice() {
                [r, g, b] => Some(Rgba::opaque(channel(r)?, channel(g)?, channel(b)?)),
                [r, g, b, a] => Some(Rgba {
                    a: alpha(a)?.clamp(0.0, 1.0),
                    ..Rgba::opaque(channel(r)?, channel(g)?, channel(b)?)
                }),
                _ => None,
            };
        }
        let hex = match c.as_str() {
            "black" => "000000",
            "white" => "ffffff",
            "red" => "ff0000",
            "green" => "008000",
            "blue" => "0000ff",
            "gray" | "grey" => "808080",
            "silver" => "c0c0c0",
            "navy" => "000080",
            "maroon" => "800000",
            "purple" => "800080",
            "teal" => "008080",
            "olive" => "808000",
            "yellow" => "ffff00",
            "orange" => "ffa500",
            _ => return None,
        };
        Rgba::hex_digits(hex)
    }

    /// `rgb`, `rgba`, `rrggbb` or `rrggbbaa`.
    fn hex_digits(h: &str) -> Option<Rgba> {
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let long: String = match h.len() {
            3 | 4 => h.chars().flat_map(|c| [c, c]).collect(),
            6 | 8 => h.to_owned(),
            _ => return None,
        };
        let ch = |i: usize| {
            u8::from_str_radix(&long[i..i + 2], 16)
                .ok()
                .map(|v| f64::from(v) / 255.0)
        };
        let a = match long.len() {
            8 => ch(6)?,
            _ => 1.0,
        };
        Some(Rgba {
            a,
            ..Rgba::opaque(ch(0)?, ch(2)?, ch(4)?)
        })
    }

    /// A theme colour, `#rrggbb`.
    pub fn from_hex(hex: &str) -> Option<Rgba> {
        Rgba::hex_digits(hex.strip_prefix('#')?).filter(|c| c.a == 1.0)
    }

    /// This colour drawn over `below` (which is opaque).
    pub fn over(self, below: Rgba) -> Rgba {
        let mix = |top: f64, bottom: f64| top * self.a + bottom * (1.0 - self.a);
        Rgba::opaque(
            mix(self.r, below.r),
            mix(self.g, below.g),
            mix(self.b, below.b),
        )
    }

    /// WCAG 2.1 relative luminance (alpha ignored: blend first).
    pub fn luminance(self) -> f64 {
        let lin = |c: f64| {
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.r) + 0.7152 * lin(self.g) + 0.0722 * lin(self.b)
    }

    /// Rounded to what `#rrggbb` can say.
    fn quantised(self) -> Rgba {
        let q = |c: f64| (c.clamp(0.0, 1.0) * 255.0).round() / 255.0;
        Rgba::opaque(q(self.r), q(self.g), q(self.b))
    }

    fn to_hsl(self) -> (f64, f64, f64) {
        let max = self.r.max(self.g).max(self.b);
        let min = self.r.min(self.g).min(self.b);
        let l = (max + min) / 2.0;
        let d = max - min;
        if d == 0.0 {
            return (0.0, 0.0, l);
        }
        let s = d / (1.0 - (2.0 * l - 1.0).abs());
        let h = if max == self.r {
            ((self.g - self.b) / d).rem_euclid(6.0)
        } else if max == self.g {
            (self.b - self.r) / d + 2.0
        } else {
            (self.r - self.g) / d + 4.0
        };
        (h * 60.0, s, l)
    }

    fn from_hsl(h: f64, s: f64, l: f64) -> Rgba {
        let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
        let x = c * (1.0 - ((h / 60.0).rem_euclid(2.0) - 1.0).abs());
        let m = l - c / 2.0;
        let (r, g, b) = match (h / 60.0) as u32 {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        Rgba::opaque(r + m, g + m, b + m)
    }
}

impl fmt::Display for Rgba {
    /// `#rrggbb`, or `#rrggbbaa` when not opaque.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = |c: f64| (c.clamp(0.0, 1.0) * 255.0).round() as u8;
        write!(f, "#{:02x}{:02x}{:02x}", b(self.r), b(self.g), b(self.b))?;
        if self.a < 1.0 {
            write!(f, "{:02x}", b(self.a))?;
        }
        Ok(())
    }
}

/// The WCAG contrast ratio of two opaque colours, 1 to 21.
pub fn ratio(a: Rgba, b: Rgba) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// A ratio as people read it, never rounded up past a threshold it misses:
/// 4.499 is "4.49:1", not "4.50:1".
pub fn shown(ratio: f64) -> String {
    format!("{:.2}:1", (ratio * 100.0).floor() / 100.0)
}

/// The colour nearest to `color` (same hue and saturation, lightness moved
/// the least) that has at least `required` contrast with `other`, and how
/// far its lightness moved (0..1). `None` if no lightness reaches it.
pub fn nearest_passing(color: Rgba, other: Rgba, required: f64) -> Option<(Rgba, f64)> {
    let (h, s, l) = color.to_hsl();
    let passes = |c: Rgba| ratio(c, other) >= required;
    [0.0, 1.0]
        .into_iter()
        .filter_map(|end: f64| {
            if !passes(Rgba::from_hsl(h, s, end).quantised()) {
                return None;
            }
            // Bisect between the colour (fails) and the end (passes).
            let (mut fail, mut pass) = (l, end);
            for _ in 0..40 {
                let mid = (fail + pass) / 2.0;
                match passes(Rgba::from_hsl(h, s, mid).quantised()) {
                    true => pass = mid,
                    false => fail = mid,
                }
            }
            let found = Rgba::from_hsl(h, s, pass).quantised();
            Some((found, (pass - l).abs()))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Rgba {
        Rgba::from_hex(s).unwrap()
    }

    #[test]
    fn ratios_match_wcag_examples() {
        assert!((ratio(Rgba::BLACK, Rgba::WHITE) - 21.0).abs() < 1e-9);
        assert!((ratio(hex("#777777"), Rgba::WHITE) - 4.48).abs() < 0.01);
        assert!((ratio(hex("#767676"), Rgba::WHITE) - 4.54).abs() < 0.01);
        assert_eq!(shown(4.4999), "4.49:1");
    }

    #[test]
    fn nearest_passing_keeps_the_hue_and_passes() {
        let (c, moved) = nearest_passing(hex("#9999ff"), Rgba::WHITE, 4.5).unwrap();
        assert!(ratio(c, Rgba::WHITE) >= 4.5, "{c}");
        assert!(moved > 0.0);
        let (h0, _, _) = hex("#9999ff").to_hsl();
        let (h1, _, _) = c.to_hsl();
        assert!((h0 - h1).abs() < 2.0, "{c}");
        // Light text on a dark ground gets lighter, not darker.
        let (c, _) = nearest_passing(hex("#5c6475"), hex("#1c1f27"), 4.5).unwrap();
        assert!(c.luminance() > hex("#5c6475").luminance(), "{c}");
    }

    #[test]
    fn alpha_blends_over_the_ground() {
        let half = Rgba::parse("rgba(0, 0, 0, 0.5)").unwrap();
        let grey = half.over(Rgba::WHITE);
        assert!((grey.r - 0.5).abs() < 1e-9);
        assert_eq!(Rgba::parse("#fff").unwrap(), Rgba::WHITE);
        assert!(Rgba::parse("inherit").is_none());
    }
}
