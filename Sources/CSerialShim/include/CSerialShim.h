#ifndef CSERIALSHIM_H
#define CSERIALSHIM_H

// termios2 for custom baud rates. The implementation includes <asm/termbits.h>, which
// conflicts with glibc's <termios.h>, so this header uses plain C types only.

/// Sets the input and output speed of the terminal `fd` to `rate` bits per second with
/// termios2 (`BOTHER`), keeping every other setting. Returns 0, or -1 with errno set.
int labvisor_serial_set_custom_speed(int fd, unsigned int rate);

/// Reads the output speed of the terminal `fd` in bits per second with termios2
/// (`TCGETS2`), which reports custom rates too. Returns 0, or -1 with errno set.
int labvisor_serial_get_speed(int fd, unsigned int *output_rate, unsigned int *input_rate);

#endif
