//! NHS numbers: ten digits, the last a modulus 11 check digit.

/// True when `s` is ten ASCII digits whose last is the modulus 11 check digit
/// of the first nine (weights 10 down to 2; a remainder giving 10 is never
/// valid, one giving 11 means 0).
pub fn is_valid_nhs_number(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    u32::from(b[9] - b'0') == check
}

#[cfg(test)]
mod tests {
    use super::is_valid_nhs_number;

    #[test]
    fn published_examples() {
        // 943 476 5919 is the example NHS number in NHS Digital's guidance.
        assert!(is_valid_nhs_number("9434765919"));
        assert!(is_valid_nhs_number("4010232137"));
        assert!(!is_valid_nhs_number("9434765910"));
        assert!(!is_valid_nhs_number("943476591"));
        assert!(!is_valid_nhs_number("94347659190"));
        assert!(!is_valid_nhs_number("943476591X"));
        assert!(!is_valid_nhs_number(""));
    }

    #[test]
    fn remainder_ten_is_never_valid() {
        // 100000006: sum 10*1 + 2*6 = 22, remainder 0, so 11 - 0 = 11 means 0.
        assert!(is_valid_nhs_number("1000000060"));
        // 100000001: sum 10*1 + 2*1 = 12, remainder 1, check 10: never valid.
        for last in 0..=9 {
            assert!(!is_valid_nhs_number(&format!("100000001{last}")));
        }
    }
}
