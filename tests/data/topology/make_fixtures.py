#!/usr/bin/env python3
"""Writes the hwloc XML topologies the topology tests load.

two-socket-4gpu-2nic.xml, a made-up machine (not a capture of a real one):
  package 0: host bridge A -> PCIe switch S0 -> GPU 0000:01:00.0, NIC mlx5_0 0000:02:00.0
             host bridge B -> root port     -> GPU 0000:21:00.0
  package 1: host bridge C -> switch S1 -> GPU 0000:81:00.0
                           -> switch S2 -> NIC mlx5_1 0000:84:00.0
             host bridge D -> root port -> GPU 0000:a1:00.0
so GPU0-NIC0 share a switch, GPU2-NIC1 a host bridge, GPU1-NIC0 and
GPU3-NIC1 a NUMA node, and GPU1-NIC1 sit across sockets.
one-gpu-no-nic.xml: one package, one GPU, no NIC.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
gp = [100]


def nid():
    gp[0] += 1
    return gp[0]


def pu_tree(first, n):
    return "".join(
        f'<object type="Core" os_index="{i}" cpuset="0x{1 << i:08x}" complete_cpuset="0x{1 << i:08x}" '
        f'gp_index="{nid()}"><object type="PU" os_index="{i}" cpuset="0x{1 << i:08x}" '
        f'complete_cpuset="0x{1 << i:08x}" gp_index="{nid()}"/></object>' for i in range(first, first + n))


def pcidev(busid, cls, vendor, device, osdev=None):
    child = f'<object type="OSDev" gp_index="{nid()}" name="{osdev}" osdev_type="3"/>' if osdev else ""
    return (f'<object type="PCIDev" gp_index="{nid()}" pci_busid="{busid}" '
            f'pci_type="{cls} [{vendor}:{device}] [{vendor}:0000] 00" pci_link_speed="31.507692">{child}</object>')


def bridge(busid, lo, hi, children):
    return (f'<object type="Bridge" gp_index="{nid()}" bridge_type="1-1" depth="1" bridge_pci="0000:[{lo}-{hi}]" '
            f'pci_busid="{busid}" pci_type="0604 [1000:c030] [1000:a064] b0" pci_link_speed="31.507692">'
            f'{children}</object>')


def host_bridge(lo, hi, children):
    return (f'<object type="Bridge" gp_index="{nid()}" bridge_type="0-1" depth="0" bridge_pci="0000:[{lo}-{hi}]">'
            f'{children}</object>')


GPU = ("0302", "10de", "2330")
NIC = ("0207", "15b3", "1021")


def package(idx, cpus, io):
    first = idx * 4
    cs = f"0x{((1 << 4) - 1) << first:08x}"
    ns = f"0x{1 << idx:08x}"
    return (f'<object type="Package" os_index="{idx}" cpuset="{cs}" complete_cpuset="{cs}" nodeset="{ns}" '
            f'complete_nodeset="{ns}" gp_index="{nid()}">'
            f'<object type="NUMANode" os_index="{idx}" cpuset="{cs}" complete_cpuset="{cs}" nodeset="{ns}" '
            f'complete_nodeset="{ns}" gp_index="{nid()}" local_memory="68719476736"/>'
            f'{pu_tree(first, cpus)}{io}</object>')


def machine(packages, ncpu):
    cs = f"0x{(1 << ncpu) - 1:08x}"
    ns = f"0x{(1 << len(packages)) - 1:08x}"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE topology SYSTEM "hwloc2.dtd">\n'
            '<topology version="2.0">\n'
            f'<object type="Machine" os_index="0" cpuset="{cs}" complete_cpuset="{cs}" allowed_cpuset="{cs}" '
            f'nodeset="{ns}" complete_nodeset="{ns}" allowed_nodeset="{ns}" gp_index="1">'
            '<info name="Backend" value="kvwall test fixture"/>'
            + "".join(packages) + "</object>\n</topology>\n")


def write(name, text):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


p0 = package(0, 4, host_bridge("00", "1f", bridge("0000:00:01.0", "01", "02",
                                                  pcidev("0000:01:00.0", *GPU) + pcidev("0000:02:00.0", *NIC, "mlx5_0")))
             + host_bridge("20", "3f", bridge("0000:20:01.0", "21", "21", pcidev("0000:21:00.0", *GPU))))
p1 = package(1, 4, host_bridge("80", "9f", bridge("0000:80:01.0", "81", "81", pcidev("0000:81:00.0", *GPU))
                               + bridge("0000:80:02.0", "84", "84", pcidev("0000:84:00.0", *NIC, "mlx5_1")))
             + host_bridge("a0", "bf", bridge("0000:a0:01.0", "a1", "a1", pcidev("0000:a1:00.0", *GPU))))
write("two-socket-4gpu-2nic.xml", machine([p0, p1], 8))
gp[0] = 100
write("one-gpu-no-nic.xml", machine([package(0, 4, host_bridge("00", "1f", bridge(
    "0000:00:01.0", "01", "01", pcidev("0000:01:00.0", *GPU))))], 4))
