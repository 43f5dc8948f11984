# The cc-ci host: the machine itself. Everything CI-specific comes from
# ../../modules-gen (rendered by ccci-gen), imported through the flake's
# nixosModules.default.
{ config, lib, pkgs, ... }:
{
  imports = [ ./hardware.nix ];

  networking.hostName = "cc-ci";
  time.timeZone = "UTC";

  services.openssh = {
    enable = true;
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "prohibit-password";
    };
  };

  # Replace with the operators' keys.
  users.users.root.openssh.authorizedKeys.keys = [ ];

  networking.firewall = {
    enable = true;
    allowedTCPPorts = [ 22 ];
  };

  nix.settings = {
    experimental-features = [ "nix-command" "flakes" ];
    auto-optimise-store = true;
    trusted-users = [ "root" ];
  };
  nix.gc = {
    automatic = true;
    dates = "weekly";
    options = "--delete-older-than 14d";
  };

  system.stateVersion = "25.11";
}
