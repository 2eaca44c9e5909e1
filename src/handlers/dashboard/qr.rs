//! The funding QR code: the wallet address rendered by the bridge as inline SVG (the `qrcode`
//! crate does the encoding), so the page needs no image or script from anywhere.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG QR code of `text` (dark modules on white, with the quiet zone scanners need); an
/// empty string when it cannot be encoded (too long for a QR code).
pub fn svg(text: &str) -> String {
    match QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) {
        Ok(code) => code
            .render::<svg::Color>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .quiet_zone(true)
            .build(),
        Err(e) => {
            log::debug!("no QR code for the wallet address: {e}");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_address_becomes_an_svg() {
        let svg = super::svg("0x2c75a0E2C5Bb3a1c0dD0e2f8B7aC4D1e5F6a5c23");
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<path"));
    }
}
