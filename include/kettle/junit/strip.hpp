// Shrinks a JUnit document before it is stored (SPEC §3.3).
#pragma once

#include <string>
#include <string_view>

namespace kettle::junit {

// Removes <system-out> and <system-err> elements below the root, except where
// the cut could change a row (a child of <failure>; a child of a <testsuites>
// root that holds testcases), cutting their exact byte ranges so the rest of
// the document is kept byte for byte. Invalid UTF-8 comes back as U+FFFD
// (SPEC D12). A malformed document is returned unchanged.
std::string strip_output(std::string_view xml);

}  // namespace kettle::junit
