/// An exact view of decimal number text (`-?digits(.digits)?([eE][+-]?digits)?`, the JSON
/// number grammar with leading zeros allowed), without converting it to a binary number.
///
/// Epoch timestamps and numeric conditions both need the value the text *says*: a `Double`
/// would round `1729439496.5141559` and could not tell `12345678901234567891` from its
/// neighbours. The view allocates nothing; digits are read from the original bytes.
struct DecimalText {
    let text: ArraySlice<UInt8>
    private(set) var negative = false
    private var intStart = 0
    private var intCount = 0
    private var fracStart = 0
    private var fracCount = 0
    private var exponent = 0
    /// Index into the digit sequence D (integer digits then fraction digits) of the first and
    /// one past the last non-zero digit; equal when the value is zero.
    private(set) var firstSignificant = 0
    private(set) var endSignificant = 0

    /// `nil` when the text is not a decimal number.
    init?(_ text: ArraySlice<UInt8>) {
        self.text = text
        var i = text.startIndex
        let end = text.endIndex
        if i < end, text[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        intStart = i
        while i < end, DecimalText.isDigit(text[i]) { i += 1 }
        intCount = i - intStart
        guard intCount > 0 else { return nil }
        fracStart = i
        if i < end, text[i] == UInt8(ascii: ".") {
            i += 1
            fracStart = i
            while i < end, DecimalText.isDigit(text[i]) { i += 1 }
            fracCount = i - fracStart
            guard fracCount > 0 else { return nil }
        }
        if i < end, text[i] == UInt8(ascii: "e") || text[i] == UInt8(ascii: "E") {
            i += 1
            var expNegative = false
            if i < end, text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-") {
                expNegative = text[i] == UInt8(ascii: "-")
                i += 1
            }
            let expStart = i
            while i < end, DecimalText.isDigit(text[i]) {
                // Beyond 10^6 every use is out of range anyway; clamp instead of overflowing.
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(text[i] &- 48) }
                i += 1
            }
            guard i > expStart else { return nil }
            if expNegative { exponent = -exponent }
        }
        guard i == end else { return nil }
        let total = intCount + fracCount
        while firstSignificant < total, digit(firstSignificant) == 0 { firstSignificant += 1 }
        endSignificant = total
        while endSignificant > firstSignificant, digit(endSignificant - 1) == 0 { endSignificant -= 1 }
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    /// The k-th digit of D (0-based).
    @inline(__always) func digit(_ k: Int) -> UInt8 {
        k < intCount ? text[intStart + k] &- 48 : text[fracStart + k - intCount] &- 48
    }

    var isZero: Bool { firstSignificant == endSignificant }

    /// Digits from the first non-zero digit to the end of D (trailing zeros included).
    var significantCount: Int { intCount + fracCount - firstSignificant }

    /// The value is D × 10^scale.
    var scale: Int { exponent - fracCount }

    /// Digits in the integer part of |value| (0 when |value| < 1).
    var integerDigits: Int { max(0, significantCount + scale) }

    /// The power of ten of the last non-zero digit: equal values have equal ones.
    private var lastDigitPower: Int { scale + (intCount + fracCount - endSignificant) }

    /// Same numeric value (`1`, `1.0`, `1e0` and `10e-1` are all equal; `-0` equals `0`).
    func numericallyEquals(_ other: DecimalText) -> Bool {
        if isZero || other.isZero { return isZero && other.isZero }
        guard negative == other.negative,
              endSignificant - firstSignificant == other.endSignificant - other.firstSignificant,
              lastDigitPower == other.lastDigitPower
        else { return false }
        var a = firstSignificant, b = other.firstSignificant
        while a < endSignificant {
            if digit(a) != other.digit(b) { return false }
            a += 1; b += 1
        }
        return true
    }

    /// ⌊value × 10^power⌋, or `nil` when its magnitude needs more than `maxDigits` digits.
    func floorScaled(by power: Int, maxDigits: Int = 17) -> Int64? {
        let significant = significantCount
        let shifted = scale + power
        let kept = significant + shifted   // digits of D that land in the integer result
        guard kept <= maxDigits else { return nil }
        var result: Int64 = 0
        if kept > 0 {
            for k in 0..<min(kept, significant) { result = result * 10 + Int64(digit(firstSignificant + k)) }
            if kept > significant { for _ in 0..<(kept - significant) { result *= 10 } }
        }
        var droppedNonZero = false
        if kept < significant {
            for k in max(0, kept)..<significant where digit(firstSignificant + k) != 0 {
                droppedNonZero = true
                break
            }
        }
        return negative ? -result - (droppedNonZero ? 1 : 0) : result
    }
}
