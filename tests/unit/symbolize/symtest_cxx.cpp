// C++ part of the test library: the symbolizer must demangle the linkage
// name of Widget::make to "ns::Widget::make(int)".
#include "symtest_lib.h"

namespace ns {

struct Widget {
    static int make(int v);
};

SYMTEST_NOIPA int Widget::make(int v)
{
    int r = symtest_capture(v); /* @mark:widget_call */
    return r + 2;
}

} // namespace ns

extern "C" SYMTEST_NOIPA int symtest_cxx(int slot)
{
    return ns::Widget::make(slot) + 1;
}
