//! Money: a decimal amount with an ISO 4217 currency. Arithmetic across currencies is refused, never silently mixed.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency {0:?} is not an ISO 4217 code (three letters, e.g. USD)")]
    BadCurrency(String),
    #[error("amount {0:?} is not a decimal number (write it like 1843.20)")]
    BadAmount(String),
    #[error("cannot combine {0} with {1}: different currencies")]
    CurrencyMismatch(Currency, Currency),
}

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let t = s.trim().as_bytes();
        if t.len() == 3 && t.iter().all(u8::is_ascii_alphabetic) {
            Ok(Currency([
                t[0].to_ascii_uppercase(),
                t[1].to_ascii_uppercase(),
                t[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(MoneyError::BadCurrency(s.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}
impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, MoneyError> {
        Self::parse(&s)
    }
}
impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_string()
    }
}
impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decimal amount in one currency. Serialised as `{"amount": "12.34", "currency": "USD"}` with the amount as a string
/// so no JSON reader turns it into a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }
    pub fn zero(currency: Currency) -> Self {
        Money {
            amount: Decimal::ZERO,
            currency,
        }
    }
    /// Parses an amount written as a decimal string.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        Ok(Money {
            amount: parse_decimal(amount)?,
            currency: Currency::parse(currency)?,
        })
    }
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        Ok(Money {
            amount: self.amount + other.amount,
            currency: self.currency,
        })
    }
    /// The amount in millionths of the currency unit, for exact integer sums in storage. `None` when the amount has more
    /// than six decimals or does not fit.
    pub fn to_micros(&self) -> Option<i64> {
        let scaled = self.amount.checked_mul(Decimal::from(1_000_000))?;
        if scaled.fract() != Decimal::ZERO {
            return None;
        }
        i64::try_from(scaled).ok()
    }
    pub fn from_micros(micros: i64, currency: Currency) -> Money {
        Money {
            amount: Decimal::new(micros, 6).normalize(),
            currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.round_dp(2), self.currency)
    }
}

/// Parses a decimal written the way billing systems write one: `1843.20`, `-3`, `1e-3`, with optional surrounding blanks.
pub fn parse_decimal(s: &str) -> Result<Decimal, MoneyError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(MoneyError::BadAmount(s.to_string()));
    }
    t.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| MoneyError::BadAmount(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amounts_and_refuses_mixed_currencies() {
        let a = Money::parse("1843.20", "usd").unwrap();
        assert_eq!(a.currency, Currency::USD);
        assert_eq!(a.to_micros(), Some(1_843_200_000));
        let e = Money::parse("1", "EUR").unwrap();
        assert!(matches!(
            a.checked_add(e),
            Err(MoneyError::CurrencyMismatch(..))
        ));
        assert!(Money::parse("twelve", "USD").is_err());
        assert!(Money::parse("1", "US").is_err());
        assert_eq!(parse_decimal("1e-3").unwrap().to_string(), "0.001");
        assert_eq!(
            Money::from_micros(1_843_200_000, Currency::USD)
                .amount
                .to_string(),
            "1843.2"
        );
    }

    #[test]
    fn micros_refuse_sub_micro_precision() {
        assert_eq!(Money::parse("0.0000001", "USD").unwrap().to_micros(), None);
    }

    #[test]
    fn serialises_amount_as_string() {
        let m = Money::parse("12.30", "USD").unwrap();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"amount":"12.30","currency":"USD"}"#
        );
    }
}
