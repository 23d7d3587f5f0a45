"""Tests of the CloudPayments sandbox emulator."""
