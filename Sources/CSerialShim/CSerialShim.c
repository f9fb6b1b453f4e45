#include "CSerialShim.h"

#include <asm/ioctls.h>
#include <asm/termbits.h>

// <sys/ioctl.h> drags in glibc's termios types, which clash with <asm/termbits.h>.
extern int ioctl(int fd, unsigned long request, ...);

int labvisor_serial_set_custom_speed(int fd, unsigned int rate) {
    struct termios2 settings;
    if (ioctl(fd, TCGETS2, &settings) != 0) return -1;
    settings.c_cflag &= ~(CBAUD | (CBAUD << IBSHIFT));
    settings.c_cflag |= BOTHER | (BOTHER << IBSHIFT);
    settings.c_ispeed = rate;
    settings.c_ospeed = rate;
    return ioctl(fd, TCSETS2, &settings);
}

int labvisor_serial_get_speed(int fd, unsigned int *output_rate, unsigned int *input_rate) {
    struct termios2 settings;
    if (ioctl(fd, TCGETS2, &settings) != 0) return -1;
    *output_rate = settings.c_ospeed;
    *input_rate = settings.c_ispeed;
    return 0;
}
