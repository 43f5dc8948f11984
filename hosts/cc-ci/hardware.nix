# An incus virtual machine: virtio disk and network, the incus agent. The
# incus module may set these too; ours are defaults so it wins where it does.
{ config, lib, pkgs, modulesPath, ... }:
{
  imports = [ "${modulesPath}/virtualisation/incus-virtual-machine.nix" ];

  boot.loader.systemd-boot.enable = lib.mkDefault true;
  boot.loader.efi.canTouchEfiVariables = lib.mkDefault true;

  fileSystems."/" = {
    device = lib.mkDefault "/dev/disk/by-label/nixos";
    fsType = lib.mkDefault "ext4";
  };
  fileSystems."/boot" = {
    device = lib.mkDefault "/dev/disk/by-label/ESP";
    fsType = lib.mkDefault "vfat";
  };

  networking.useDHCP = lib.mkDefault true;
}
