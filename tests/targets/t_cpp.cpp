// t_cpp: C++ allocations, exceptions through deep stacks and backtrace(),
// built -O0.
//
// Truth:
//   make_widget: `new Widget` (48 bytes) leaks (@leak:new); the stack's
//     frame 0 is operator new, the first user frame make_widget.
//   fill_vector: a heap-allocated std::vector<int> (object leaked,
//     @leak:vector_obj, 24 bytes) grows by push_back to 1000 elements; its
//     final buffer (capacity 1024 -> 4096 bytes) leaks with first user frame
//     fill_vector at @leak:vector_push.  Earlier buffers were freed.
//   thrower: recursion 30 frames deep throws std::runtime_error, caught in
//     main; the exception object is freed.
//   backtrace() called 10 frames deep returns > 5 frames.
//   stdout is identical with and without the shim.
// valgrind --leak-check=full: "definitely lost: 72 bytes in 2 blocks,
//   indirectly lost: 4,096 bytes in 1 blocks".
#include <execinfo.h>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

struct Widget {
    char name[40];
    long id;
};

static Widget *volatile widget_sink;
static std::vector<int> *volatile vector_sink;

__attribute__((noinline)) static void make_widget()
{
    Widget *w = new Widget(); // @leak:new
    w->id = 7;
    widget_sink = w;
    widget_sink = nullptr;
}

__attribute__((noinline)) static void fill_vector()
{
    std::vector<int> *v = new std::vector<int>(); // @leak:vector_obj
    for (int i = 0; i < 1000; i++)
        v->push_back(i); // @leak:vector_push
    vector_sink = v;
    vector_sink = nullptr;
}

__attribute__((noinline)) static int thrower(int depth)
{
    if (depth == 0)
        throw std::runtime_error("deep failure at depth 30");
    return thrower(depth - 1) + 1;
}

__attribute__((noinline)) static int deep_backtrace(int depth)
{
    if (depth == 0) {
        void *frames[64];
        return backtrace(frames, 64);
    }
    return deep_backtrace(depth - 1) + 0 * depth;
}

int main()
{
    make_widget();
    fill_vector();
    try {
        int r = thrower(30);
        std::cout << "no exception: " << r << "\n";
    } catch (const std::exception &e) {
        std::cout << "caught: " << e.what() << "\n";
    }
    int n = deep_backtrace(10);
    std::cout << "backtrace frames > 5: " << (n > 5 ? "yes" : "no") << "\n";
    std::string s;
    for (int i = 0; i < 100; i++)
        s += std::to_string(i);
    std::cout << "string length " << s.size() << std::endl;
    return 0;
}
