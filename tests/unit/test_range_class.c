/* test_range_class.c — RFC 6335 range classes at every boundary. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "registry/range_class.h"

static void boundaries_fall_in_the_right_class(void **state)
{
    (void)state;
    static const struct { uint16_t port; enum port_range_class cls; } cases[] = {
        { 0, PORT_RANGE_SYSTEM }, { 1023, PORT_RANGE_SYSTEM }, { 1024, PORT_RANGE_USER },
        { 3306, PORT_RANGE_USER }, { 49151, PORT_RANGE_USER }, { 49152, PORT_RANGE_DYNAMIC },
        { 65535, PORT_RANGE_DYNAMIC },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(port_range_class_of(cases[i].port), cases[i].cls);
}

static void classes_have_ids_labels_and_bounds(void **state)
{
    (void)state;
    assert_string_equal(port_range_class_id(PORT_RANGE_SYSTEM), "system");
    assert_string_equal(port_range_class_id(PORT_RANGE_USER), "user");
    assert_string_equal(port_range_class_id(PORT_RANGE_DYNAMIC), "dynamic");
    assert_string_equal(port_range_class_label(PORT_RANGE_USER), "user (registered) port 1024\u201349151");
    for (int c = PORT_RANGE_SYSTEM; c <= PORT_RANGE_DYNAMIC; c++) {
        enum port_range_class cls = (enum port_range_class)c;
        assert_int_equal(port_range_class_of(port_range_class_first(cls)), cls);
        assert_int_equal(port_range_class_of(port_range_class_last(cls)), cls);
    }
    assert_int_equal(port_range_class_last(PORT_RANGE_SYSTEM) + 1, port_range_class_first(PORT_RANGE_USER));
    assert_int_equal(port_range_class_last(PORT_RANGE_USER) + 1, port_range_class_first(PORT_RANGE_DYNAMIC));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(boundaries_fall_in_the_right_class),
        cmocka_unit_test(classes_have_ids_labels_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
