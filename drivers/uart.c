/* drivers/uart.c — 16550 UART on COM1 (see uart.h). */
#include <string.h>

#include "drivers/uart.h"
#include "hw/hw.h"

#define COM1 0x3f8
#define RBR 0 /* receive buffer (read) / THR transmit (write) */
#define IER 1
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define LSR_DR 0x01
#define LSR_THRE 0x20

void uart_init(void)
{
	outb(COM1 + IER, 0x00);
	outb(COM1 + LCR, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01);	/* divisor 1: 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + LCR, 0x03); /* 8N1 */
	/* FIFO on and cleared; receive interrupt at 1 byte, so every byte that
	 * arrives at an empty FIFO raises an edge (the console still polls). */
	outb(COM1 + FCR, 0x07);
	outb(COM1 + MCR, 0x0b); /* DTR, RTS, OUT2 (IRQ line to the IOAPIC) */
}

void uart_putc(char c)
{
	for (unsigned i = 0; i < 1000000 && !(inb(COM1 + LSR) & LSR_THRE); i++)
		cpu_pause();
	outb(COM1 + RBR, (uint8_t)c);
}

void uart_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

void uart_write_raw(const char *s, size_t n)
{
	char prev = 0;

	for (size_t i = 0; i < n; prev = s[i++]) {
		if (s[i] == '\n' && prev != '\r')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

void uart_puts_raw(const char *s) { uart_write_raw(s, strlen(s)); }

int uart_getc(void)
{
	if (!(inb(COM1 + LSR) & LSR_DR))
		return -1;
	return inb(COM1 + RBR);
}

void uart_rx_irq(bool on) { outb(COM1 + IER, on ? 0x01 : 0x00); }

/* Reading IIR acknowledges a pending interrupt; the data itself stays in
 * the FIFO for uart_getc(). */
void uart_irq_ack(void) { (void)inb(COM1 + 2); }
