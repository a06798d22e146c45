#include "core/identity.hpp"

#include <fmt/format.h>
#include <memory>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/uspoof.h>

#include "core/safe_text.hpp"

namespace promoter::core {

namespace {

std::string to_utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

icu::UnicodeString normalised(std::string_view name) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
  const icu::UnicodeString text =
      icu::UnicodeString::fromUTF8(icu::StringPiece(name.data(), static_cast<int32_t>(name.size())));
  if (U_FAILURE(status)) return text;  // ICU's data is missing: compare as written rather than not at all
  icu::UnicodeString out = nfkc_cf->normalize(text, status);
  if (U_FAILURE(status)) return text;
  // After normalising, so that a no-break or ideographic space NFKC makes a space is trimmed too.
  return out.trim();
}

struct SpoofCloser {
  void operator()(USpoofChecker* c) const { uspoof_close(c); }
};
using SpoofChecker = std::unique_ptr<USpoofChecker, SpoofCloser>;

// Configured once; ICU's checking functions are safe to call from several threads on a configured checker.
const USpoofChecker* spoof_checker() {
  static const SpoofChecker checker = [] {
    UErrorCode status = U_ZERO_ERROR;
    SpoofChecker c(uspoof_open(&status));
    if (U_FAILURE(status)) return SpoofChecker{};
    uspoof_setChecks(c.get(), USPOOF_RESTRICTION_LEVEL | USPOOF_CONFUSABLE, &status);
    uspoof_setRestrictionLevel(c.get(), USPOOF_MODERATELY_RESTRICTIVE);
    if (U_FAILURE(status)) return SpoofChecker{};
    return c;
  }();
  return checker.get();
}

}  // namespace

std::string normalise_identity(std::string_view name) { return to_utf8(normalised(name)); }

bool same_identity(std::string_view a, std::string_view b) {
  const icu::UnicodeString na = normalised(a), nb = normalised(b);
  if (na.isEmpty() || nb.isEmpty()) return false;  // a blank name is nobody, not everybody blank
  if (na == nb) return true;
  const USpoofChecker* checker = spoof_checker();
  if (!checker) return false;
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString skeleton_a, skeleton_b;
  uspoof_getSkeletonUnicodeString(checker, 0, na, skeleton_a, &status);
  uspoof_getSkeletonUnicodeString(checker, 0, nb, skeleton_b, &status);
  return U_SUCCESS(status) && skeleton_a == skeleton_b;
}

Result<void> check_identity_spelling(std::string_view name) {
  if (auto why = unsafe_text(name, TextKind::single_line))
    return fail(ErrorCode::invalid_argument, fmt::format("the name {}", *why));
  const USpoofChecker* checker = spoof_checker();
  if (!checker)
    return fail(ErrorCode::internal, "cannot check the spelling of names: ICU's spoof checker did not open");
  UErrorCode status = U_ZERO_ERROR;
  const int32_t result = uspoof_checkUTF8(checker, name.data(), static_cast<int32_t>(name.size()), nullptr, &status);
  if (U_FAILURE(status))
    return fail(ErrorCode::invalid_argument,
                fmt::format("the name cannot be read as Unicode ({})", u_errorName(status)));
  if (result & USPOOF_RESTRICTION_LEVEL)
    return fail(ErrorCode::invalid_argument,
                "the name mixes scripts (e.g. Latin letters with Cyrillic or Greek ones), so it can imitate "
                "another name; spell it in one script");
  return {};
}

}  // namespace promoter::core
