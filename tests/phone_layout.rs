//! The built email on a phone (issue 11): a guide image that does not load,
//! because images are blocked or its address is broken, must not widen the
//! layout past the screen and cut the text off. Checked in headless Chromium
//! at a 375 px wide viewport, the width of a small phone.

mod browser;
mod common;

use std::path::Path;
use std::time::Duration;

use browser::Browser;
use common::{MIDWEEK, Sample};

const GUIDE: &str = "issues/2026-11-25-midweek/guide.md";
const PHONE: u32 = 375;

/// Images in the places a guide can hold them: a paragraph, a quote and a
/// list, with and without a stated size. `images.invalid` never resolves.
const IMAGES: &str = "\
![A diagram of a model's layers, from the embedding at the bottom to the output at the top](https://images.invalid/layers.png)

> ![A quoted figure, wider than any phone](https://images.invalid/wide.png){width=1200 height=600}

- ![A small figure in a list](https://images.invalid/small.png){width=300}
- A second item.

";

/// The sample with `IMAGES` at the start of the guide's first section, built.
fn built_with_images() -> (Sample, std::path::PathBuf) {
    let sample = Sample::new();
    sample.edit(
        GUIDE,
        "## What it is\n",
        &format!("## What it is\n\n{IMAGES}"),
    );
    let dir = sample.build(MIDWEEK);
    (sample, dir)
}

/// Opens `page` at phone width and returns the document's scroll width
/// once it has loaded (the load event waits for every image that is fetched
/// to arrive or fail).
fn phone_scroll_width(page: &Path, flags: &[&str]) -> u64 {
    let url = format!("file://{}", page.display());
    let mut b = Browser::launch_with(&url, flags);
    b.emulate_phone(PHONE, 800);
    b.wait_for(
        "the page to load",
        // The first target may still be about:blank, itself complete.
        "location.protocol === 'file:' && document.readyState === 'complete'",
        Duration::from_secs(20),
        |v| v.as_bool() == Some(true),
    );
    let width = b.eval("window.innerWidth");
    assert_eq!(
        width.as_u64(),
        Some(PHONE as u64),
        "the viewport is not a phone's"
    );
    let images = b.eval("document.images.length").as_u64();
    assert_eq!(images, Some(3), "the guide's images are not in the email");
    b.eval("document.documentElement.scrollWidth")
        .as_u64()
        .expect("a scroll width")
}

#[test]
fn blocked_images_keep_the_phone_layout() {
    if !browser::available() {
        return;
    }
    let (_sample, dir) = built_with_images();
    let width = phone_scroll_width(
        &dir.join("email.html"),
        &["--blink-settings=imagesEnabled=false"],
    );
    assert!(
        width <= PHONE as u64,
        "with images blocked the email is {width} px wide on a {PHONE} px phone"
    );
}

#[test]
fn broken_image_addresses_keep_the_phone_layout() {
    if !browser::available() {
        return;
    }
    let (_sample, dir) = built_with_images();
    let width = phone_scroll_width(&dir.join("email.html"), &[]);
    assert!(
        width <= PHONE as u64,
        "with images that do not load the email is {width} px wide on a {PHONE} px phone"
    );
}

/// The baseline: the same email with its images loading (from local SVG
/// files standing in for the https ones) fits too.
#[test]
fn loaded_images_fit_the_phone_layout() {
    if !browser::available() {
        return;
    }
    let (sample, dir) = built_with_images();
    let mut html = std::fs::read_to_string(dir.join("email.html")).unwrap();
    for (name, w, h) in [
        ("layers", 1600, 900),
        ("wide", 1200, 600),
        ("small", 300, 200),
    ] {
        let file = sample.path(format!("img/{name}.svg"));
        html = html.replace(
            &format!("https://images.invalid/{name}.png"),
            &format!("file://{}", file.display()),
        );
        sample.write(
            &file,
            format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\"><rect width=\"{w}\" height=\"{h}\" fill=\"#88a\"/></svg>"
            ),
        );
    }
    let page = dir.join("email-local-images.html");
    std::fs::write(&page, html).unwrap();
    let width = phone_scroll_width(&page, &["--allow-file-access-from-files"]);
    assert!(
        width <= PHONE as u64,
        "with images loaded the email is {width} px wide on a {PHONE} px phone"
    );
}
