// utf8: strict UTF-8 ⇄ Unicode code points. The decoder accepts
// exactly the well-formed UTF-8 of the Unicode standard (table 3-7): no overlong forms, no
// surrogates, nothing above U+10FFFF, no truncated sequences, no stray continuation bytes; the
// first offence throws InputError with its byte offset. A byte-order mark is not special: it
// decodes to U+FEFF like any other character.
#pragma once

#include <string>
#include <string_view>

namespace spectral {

// True for a Unicode scalar value: ≤ U+10FFFF and not a surrogate (U+D800..U+DFFF).
bool is_scalar_value(char32_t cp);

// Decodes UTF-8. `where` names the source in error messages (a path, "prompt", ...), e.g.
// "data/input.txt: invalid UTF-8 at byte 1234 (line 40): overlong 2-byte encoding (0xC0 0xAF)".
// The offset is that of the first byte of the offending sequence (the stray byte itself for a
// continuation byte out of place).
std::u32string utf8_decode(std::string_view bytes, std::string_view where = "text");

// Encodes code points as UTF-8; a non-scalar value throws InputError naming it and its position.
std::string utf8_encode(std::u32string_view text);
// Appends one code point; throws InputError if it is not a scalar value.
void utf8_append(std::string& out, char32_t cp);

// A code point for a one-line message: "Z" (U+005A), "\n" (U+000A), "é" (U+00E9); control,
// format-breaking and invalid code points are shown by number only: U+0085, U+D800.
std::string describe_code_point(char32_t cp);


}  // namespace spectral
