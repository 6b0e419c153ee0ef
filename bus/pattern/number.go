package pattern

// Numbers are compared the way EventBridge compares them: as decimals
// between -5e9 and 5e9 with at most six digits after the decimal point,
// exactly (no floating-point rounding). parseMicro turns a JSON number into
// millionths; a number outside that domain is not comparable: a pattern may
// not use it in numeric or anything-but, and an event value that is one
// never satisfies a numeric comparison.

const (
	maxMicro      = 5_000_000_000 * 1_000_000 // 5e9 in millionths
	microDecimals = 6
)

// parseMicro parses a JSON number (as written) into millionths. It reports
// false for text that is not a JSON number and for numbers outside the
// comparable domain.
func parseMicro(s string) (int64, bool) {
	i, n := 0, len(s)
	neg := false
	if i < n && s[i] == '-' {
		neg = true
		i++
	}
	var digits []byte // significant digits of the mantissa
	exp := 0          // value = digits × 10^exp
	start := i
	for i < n && isDigit(s[i]) {
		digits = append(digits, s[i])
		i++
	}
	if i == start || (s[start] == '0' && i-start > 1) {
		return 0, false
	}
	if i < n && s[i] == '.' {
		i++
		fs := i
		for i < n && isDigit(s[i]) {
			digits = append(digits, s[i])
			exp--
			i++
		}
		if i == fs {
			return 0, false
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < n && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		e := 0
		for i < n && isDigit(s[i]) {
			if e < 100_000 { // saturate: anything larger is out of range anyway
				e = e*10 + int(s[i]-'0')
			}
			i++
		}
		if i == es {
			return 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != n {
		return 0, false
	}
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, true
	}
	for digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	shift := exp + microDecimals
	if shift < 0 || len(digits)+shift > 16 {
		return 0, false
	}
	var v int64
	for _, d := range digits {
		v = v*10 + int64(d-'0')
	}
	for range shift {
		v *= 10
	}
	if v > maxMicro {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
