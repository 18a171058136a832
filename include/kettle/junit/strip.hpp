// Shrinks a JUnit document before it is stored (SPEC §3.3).
#pragma once

#include <string>
#include <string_view>

namespace kettle::junit {

// Removes <system-out> and <system-err> elements below the root (they never
// change a row), cutting their exact byte ranges so the rest of the document
// is kept byte for byte. A malformed document is returned unchanged.
std::string strip_output(std::string_view xml);

}  // namespace kettle::junit
